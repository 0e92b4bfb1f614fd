// A classic script the server inlines into every page's <head> (server.py page(); the CSP allows it
// by its sha256), so it runs while the HTML is parsed, before any module. On a workspace page
// (/p/<project>) it asks at once for the rows the runs table shows first (the first screenful in the
// table's saved sort, `?limit=`), so the answer travels while the page's modules and styles load;
// project.js takes it instead of asking again, paints it, then asks for the whole table. With a
// saved grouping the first screen needs every row (group headers count runs): then the whole table
// is asked for here. First paint of a 10,000-run table; the sort rules are the table's own
// (runs.js sortRows, views.FirstRows).
(function () {
  var m = /^\/p\/([^/]+)\/?$/.exec(location.pathname);
  if (!m || !window.fetch) return;
  var project;
  try { project = decodeURIComponent(m[1]); } catch (e) { return; }
  var saved = {};
  try { saved = JSON.parse(localStorage.getItem("forkpoint.table." + project) || "{}") || {}; } catch (e) { saved = {}; }
  var url = "/api/runs?project=" + encodeURIComponent(project);
  if (saved.groupBy) {
    window.forkpointEarly = { project: project, response: fetch(url) };
    return;
  }
  var sort = typeof saved.sort === "string" && saved.sort ? saved.sort : "created_at";
  var desc = saved.sort ? !saved.asc : true; // runs.js: newest first unless a sort was chosen
  var rows = Math.min(500, Math.ceil((window.innerHeight || 1000) / 28) + 40); // a screenful and the overscan
  url += "&limit=" + rows + "&sort=" + encodeURIComponent(sort) + "&order=" + (desc ? "desc" : "asc");
  window.forkpointEarly = { project: project, response: fetch(url) };
})();
