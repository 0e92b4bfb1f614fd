// forkpoint UI: the router. Pages live one per module; see dom.js for how store strings are shown.
import { comparePage } from "./compare.js";
import { h } from "./dom.js";
import { runPage } from "./run.js";
import { runsPage } from "./runs.js";

const app = document.getElementById("app");

async function route() {
  try {
    const path = decodeURIComponent(location.pathname);
    if (path.startsWith("/run/")) return await runPage(app, path.slice(5).replace(/\/$/, ""));
    if (path.startsWith("/compare")) {
      return await comparePage(app, (new URLSearchParams(location.search).get("runs") || "").split(",").filter(Boolean));
    }
    return await runsPage(app);
  } catch (err) {
    app.replaceChildren(h("div", { className: "box", id: "error" }, err.message));
  }
}
route();
