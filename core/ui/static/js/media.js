// Media panels of a run: images with a step slider, histograms over steps, tables (issue 15/17).
// STUB: nothing shown yet.
//   mediaPanels(container, run): run is /api/run/<ref>'s answer (run.media lists the media keys)
export async function mediaPanels(container, run) {
  container.replaceChildren();
  container.dataset.ready = "1";
  return run;
}
