// A project's workspace: runs table, lineage graph and charts of the chosen runs.
import { runsPage } from "./runs.js";

export async function projectPage(app, project) {
  return runsPage(app, project);
}
