import { defineConfig } from "vite";

// The app serves index.html at / and everything else under /dashboard/ (api/dashboard.py).
export default defineConfig({
  base: "/dashboard/",
  build: {
    outDir: "../api/static/dist",
    emptyOutDir: true,
    // cytoscape alone is a 441 kB chunk, loaded only when the risk view draws a cluster
    // (web/src/risk.ts); the page's own bundle is about 100 kB.
    chunkSizeWarningLimit: 460,
  },
  server: {
    proxy: { "/graphql": "http://127.0.0.1:8000" },
  },
});
