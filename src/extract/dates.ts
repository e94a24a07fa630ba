/**
 * Dates as pages write them, turned into ISO 8601. A date alone stays a date
 * (`2024-03-05`); a date with a time becomes UTC (`2024-03-05T09:30:00.000Z`).
 * Anything that is not clearly a date is refused (null), so a stray string in
 * a `date` meta never becomes a wrong one.
 */

/** ISO 8601 and its common variants: a space for the T, a missing seconds or zone part. */
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|[+-]\d{2}:?\d{2})?)?$/i;
/** Compact ISO 8601 (`20240305`, `20240305T093000Z`), as Dublin Core and some feeds write it. */
const COMPACT = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})?(Z|[+-]\d{4})?)?$/i;
/** RFC 2822 / RFC 1123 (`Tue, 05 Mar 2024 09:30:00 GMT`) and `5 March 2024`, `March 5, 2024`: left to Date.parse, checked. */
const WORDY = /^(?:[a-z]{3,9},?\s+)?(?:\d{1,2}\s+[a-z]{3,9}\.?,?\s+\d{4}|[a-z]{3,9}\.?\s+\d{1,2},?\s+\d{4})(?:,?\s+(?:at\s+)?\d{1,2}:\d{2}(?::\d{2})?\s*(?:am|pm)?\s*(?:[a-z]{1,5}|[+-]\d{4})?)?$/i;

/** Earliest and latest years taken for a page's date; outside them a "date" is more likely an id. */
const MIN_YEAR = 1990;
const MAX_YEAR_AHEAD = 2;

/** The ISO 8601 form of a date a page wrote, or null when it is not clearly one. */
export function isoDate(raw: string | null | undefined): string | null {
  if (!raw) return null;
  const text = raw.trim();
  if (text === '' || text.length > 64) return null;
  const iso = ISO.exec(text) ?? COMPACT.exec(text);
  if (iso) {
    const [, y, mo, d, h, mi, s, frac, zone] = iso.length === 9 ? iso : [...iso.slice(0, 7), undefined, iso[7]];
    if (!validDay(Number(y), Number(mo), Number(d)) || !plausibleYear(Number(y))) return null;
    if (h === undefined) return `${y}-${mo}-${d}`;
    const seconds = s ?? '00';
    const millis = frac ? `.${frac.slice(0, 3).padEnd(3, '0')}` : '';
    const offset = !zone || zone.toUpperCase() === 'Z' ? 'Z' : zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone;
    // A date-time without a zone is taken as UTC: the page gave no better answer.
    return normalized(Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${seconds}${millis}${offset}`));
  }
  if (WORDY.test(text)) return normalized(Date.parse(text.replace(/\s+at\s+/i, ' ')));
  return null;
}

function validDay(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function plausibleYear(year: number): boolean {
  return year >= MIN_YEAR && year <= new Date().getUTCFullYear() + MAX_YEAR_AHEAD;
}

function normalized(ms: number): string | null {
  if (Number.isNaN(ms)) return null;
  const date = new Date(ms);
  return plausibleYear(date.getUTCFullYear()) ? date.toISOString() : null;
}
