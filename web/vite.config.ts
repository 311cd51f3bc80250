import { defineConfig } from "vite";

// The app serves index.html at / and everything else under /dashboard/ (api/dashboard.py).
export default defineConfig({
  base: "/dashboard/",
  build: {
    outDir: "../api/static/dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 400,
  },
  server: {
    proxy: { "/graphql": "http://127.0.0.1:8000" },
  },
});
