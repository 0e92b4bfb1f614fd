// The projects page: every project with its number of runs, running runs and last activity.
import { runsPage } from "./runs.js";

export async function projectsPage(app) {
  return runsPage(app); // for now the runs table of every project
}
