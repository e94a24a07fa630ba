# fanout on a self-hosted workerd (outside Cloudflare's network): README "Self-hosting".
#
#   npx wrangler deploy --dry-run --outdir deploy/dist     # the bundle, as Cloudflare would get it
#   npx workerd serve deploy/workerd.capnp                  # listens on 0.0.0.0:8080
#   npx workerd serve deploy/workerd.capnp --socket-addr http=127.0.0.1:9000
#
# The point of this file is the "internet" service: fanout's outbound fetch() may reach public
# addresses only. fanout's guard refuses private and local addresses and names as written
# (README "What the guard refuses"), but a public-looking name can resolve to 10.0.0.5 or
# 127.0.0.1; on Cloudflare the runtime refuses that, here this network service does, after
# resolution. Watch lists need D1 and are not served here; /v1/fetch and /health are.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .fanout),
    # Public addresses only: no loopback, private, link-local or other local ranges, whatever a name resolves to.
    (name = "internet", network = (allow = ["public"], deny = ["private", "local"], tlsOptions = (trustBrowserCas = true))),
  ],
  sockets = [ (name = "http", address = "*:8080", http = (), service = "main") ],
);

const fanout :Workerd.Worker = (
  modules = [ (name = "index.js", esModule = embed "dist/index.js") ],
  compatibilityDate = "2026-11-01",
  compatibilityFlags = ["enable_request_signal"],
  globalOutbound = "internet",
  bindings = [
    # Scale-out lanes (README "Scale-out"), kept in this process's memory.
    (name = "SHARDS", durableObjectNamespace = "FetchShard"),
    # Set these in the environment workerd runs in; unset leaves fanout's defaults.
    (name = "API_TOKEN", fromEnvironment = "FANOUT_API_TOKEN"),
    (name = "API_TOKENS", fromEnvironment = "FANOUT_API_TOKENS"),
    (name = "USER_AGENT", fromEnvironment = "FANOUT_USER_AGENT"),
    # Local development only: lets the guard through to loopback and private addresses. The
    # network service above still refuses them, so on this config it can only show that it does.
    (name = "ALLOW_PRIVATE_HOSTS", fromEnvironment = "FANOUT_ALLOW_PRIVATE_HOSTS"),
  ],
  durableObjectNamespaces = [ (className = "FetchShard", uniqueKey = "fanout-FetchShard", enableSql = true) ],
  durableObjectStorage = (inMemory = void),
);
