// A classic script loaded first in <head> (blocking, so high priority: it is tiny), before any module: on a workspace page (/p/<project>)
// it sends the runs table's request at once, so the answer travels while the page's modules and
// styles load (project.js takes it instead of asking again). First paint of a 10,000-run table.
(function () {
  var m = /^\/p\/([^/]+)\/?$/.exec(location.pathname);
  if (!m || !window.fetch) return;
  var project;
  try { project = decodeURIComponent(m[1]); } catch (e) { return; }
  window.forkpointEarly = { project: project, response: fetch("/api/runs?project=" + encodeURIComponent(project)) };
})();
