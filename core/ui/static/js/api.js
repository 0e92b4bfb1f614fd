// The UI's reads: one function per JSON endpoint of core/ui/server.py (its docstring is the contract).
export async function getJSON(url) {
  const r = await fetch(url);
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

const q = (params) => new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== null)).toString();
const enc = encodeURIComponent;

export const projects = () => getJSON("/api/projects");
export const runs = (project) => getJSON("/api/runs?" + q({ project }));
export const run = (ref) => getJSON(`/api/run/${enc(ref)}`);
export const series = (ref, key, points = 1500) => getJSON(`/api/run/${enc(ref)}/series?` + q({ key, points }));
export const seriesMany = (runs, key, x = "_step", points = 1500) =>
  getJSON("/api/series?" + q({ runs: runs.join(","), key, x, points }));
export const status = (runs) => getJSON("/api/status?" + q({ runs: runs.join(",") }));
export const lineage = (params) => getJSON("/api/lineage?" + q(params));
export const media = (ref, key) => getJSON(`/api/run/${enc(ref)}/media?` + q({ key }));
