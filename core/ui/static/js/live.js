// Live updates: poll /api/status for the running runs pages show and call back when one changes
// (new steps or a new state). One poller serves every watcher of the page (the grid, the runs
// table, the run page's badge): one request per tick for all of them.
//   watch(ids, onChange(id, status)) -> stop()     status = {state, last_step, updated_at}
// onChange fires when a run's last_step, updated_at or state differs from the previous poll (the
// first poll only records, unless the run is not running any more: the caller watched it as
// running). A run that stops running is called back once more, then dropped; polling stops when no
// watched run is left running, and pauses while the page is hidden.
import * as api from "./api.js";

export const INTERVAL_MS = 2000;
const MAX_IDS = 1000; // /api/status's limit per request

const watchers = new Set(); // {ids: Set, seen: Map(id -> status), onChange}
let timer = 0, busy = false;

export function watch(ids, onChange) {
  const w = { ids: new Set(ids), seen: new Map(), onChange };
  if (!w.ids.size) return () => {};
  watchers.add(w);
  schedule(0);
  return () => {
    watchers.delete(w);
    if (!watchers.size) { clearTimeout(timer); timer = 0; }
  };
}

function schedule(ms) {
  clearTimeout(timer);
  timer = 0;
  if (!watchers.size || document.hidden) return;
  timer = setTimeout(tick, ms);
}

async function tick() {
  timer = 0;
  if (busy) return;
  busy = true;
  try {
    const ids = [...new Set([...watchers].flatMap((w) => [...w.ids]))];
    for (let i = 0; i < ids.length; i += MAX_IDS) {
      const got = await api.status(ids.slice(i, i + MAX_IDS)).catch(() => null);
      if (got) deliver(got.runs);
    }
  } finally {
    busy = false;
    document.documentElement.dataset.livePolls = String(Number(document.documentElement.dataset.livePolls || 0) + 1);
    schedule(INTERVAL_MS);
  }
}

function deliver(statuses) {
  for (const w of [...watchers]) {
    for (const id of [...w.ids]) {
      if (!(id in statuses)) continue;
      const now = statuses[id];
      const before = w.seen.get(id);
      w.seen.set(id, now);
      const gone = now === null || now.state !== "running";
      const moved = before === undefined ? gone
        : now === null || before === null || now.state !== before.state || now.last_step !== before.last_step || now.updated_at !== before.updated_at;
      if (gone) w.ids.delete(id); // called back once more below, then no longer polled
      if (moved) {
        try {
          w.onChange(id, now);
        } catch (err) {
          console.error(err); // one page's bug must not stop the others' updates
        }
      }
    }
    if (!w.ids.size) watchers.delete(w);
  }
}

// hidden tab: no polling; back in view: poll at once
if (typeof document !== "undefined") document.addEventListener("visibilitychange", () => schedule(document.hidden ? -1 : 0));
