-- A run's count of changed URLs is its stats.changed; the column repeated it and nothing reads it.
-- Old code writes this column: apply this migration and deploy the code that no longer does together
-- (README "Deploying").
ALTER TABLE runs DROP COLUMN changed;
