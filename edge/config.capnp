# workerd configuration for running the alibi edge Worker locally
# (`make -C edge dev`). Paths are relative to edge/ (the Makefile runs
# workerd from there); edge/build/site is a link to the served folder.
# The `assets` service (Cloudflare's static-assets server, as wrangler's
# `assets` config) needs `workerd serve --experimental`.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .alibiEdge),
    (name = "site", assets = (path = "build/site", config = "{}", compatibilityDate = "2025-09-01")),
  ],
  sockets = [ (name = "http", address = "*:8787", http = (), service = "main") ],
);

const alibiEdge :Workerd.Worker = (
  modules = [
    (name = "worker.mjs", esModule = embed "build/worker.mjs"),
    (name = "wasm_exec.js", esModule = embed "build/wasm_exec.js"),
    (name = "simd-host.mjs", esModule = embed "build/simd-host.mjs"),
    (name = "edge.wasm", wasm = embed "build/edge.wasm"),
    (name = "kernels.wasm", wasm = embed "build/kernels.wasm"),
    (name = "site-index.json", json = embed "build/site-index.json"),
  ],
  compatibilityDate = "2025-09-01",
  compatibilityFlags = ["enable_request_signal"],
  bindings = [
    (name = "ASSETS", service = (name = "site", entrypoint = "AssetWorker")),
    (name = "ALIBI_MODEL_DIR", text = "models/brown-bloom"),
  ],
);
