// forkpoint UI: the router. Pages live one per module; see dom.js for how store strings are shown.
import { comparePage } from "./compare.js";
import { h } from "./dom.js";
import { runPage } from "./run.js";
import { projectPage } from "./project.js";
import { projectsPage } from "./projects.js";

const app = document.getElementById("app");

async function route() {
  try {
    const path = decodeURIComponent(location.pathname);
    if (path.startsWith("/run/")) return await runPage(app, path.slice(5).replace(/\/$/, ""));
    if (path.startsWith("/compare")) {
      return await comparePage(app, (new URLSearchParams(location.search).get("runs") || "").split(",").filter(Boolean));
    }
    if (path.startsWith("/p/")) return await projectPage(app, path.slice(3).replace(/\/$/, ""));
    return await projectsPage(app);
  } catch (err) {
    app.replaceChildren(h("div", { className: "box", id: "error" }, err.message));
  }
}
route();
