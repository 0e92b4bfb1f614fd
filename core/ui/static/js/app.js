// forkpoint UI: the router. Pages live one per module; see dom.js for how store strings are shown.
// Each page's module is imported when its route is taken, so a page loads only what it shows.
import { h } from "./dom.js";

const app = document.getElementById("app");

async function route() {
  try {
    const path = decodeURIComponent(location.pathname);
    if (path.startsWith("/run/")) return await (await import("./run.js")).runPage(app, path.slice(5).replace(/\/$/, ""));
    if (path.startsWith("/compare")) {
      const runs = (new URLSearchParams(location.search).get("runs") || "").split(",").filter(Boolean);
      return await (await import("./compare.js")).comparePage(app, runs);
    }
    if (path.startsWith("/p/")) return await (await import("./project.js")).projectPage(app, path.slice(3).replace(/\/$/, ""));
    return await (await import("./projects.js")).projectsPage(app);
  } catch (err) {
    app.replaceChildren(h("div", { className: "box", id: "error" }, err.message));
  }
}
route();
