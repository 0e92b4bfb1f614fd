// Live updates: poll /api/status for running runs and call back when one changes (new steps or a
// new state). STUB: no polling yet.
//   watch(ids, onChange(id, status)) -> stop()
export function watch(ids, onChange) {
  return () => { void ids; void onChange; };
}
