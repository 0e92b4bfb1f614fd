// The lineage of a run: its root, archived branches and forks, as the server's flat depth-first list.
import { h, runLink } from "./dom.js";

const TREE_INDENT_CAP = 30; // deeper lineages keep this indent and say their depth

// One <li> per node, indented by depth (a loop, any depth).
export function treeList(nodes, current) {
  return h("ul", { className: "tree" }, nodes.map((n) => {
    const li = h("li", { className: n.id === current ? "current" : "" },
      n.relation === "root" ? "" : n.relation + " ", runLink(n.id),
      " ", h("span", { className: "muted" }, `[${n.state}]${n.label ? " " + n.label : ""}`),
      n.depth > TREE_INDENT_CAP ? h("span", { className: "muted" }, ` (depth ${n.depth})`) : "");
    li.style.paddingLeft = `${Math.min(n.depth, TREE_INDENT_CAP) * 16}px`;
    return li;
  }));
}

// The lineage graph (issue 15: the centre of the UI). STUB: a list of the graph's nodes; to be
// replaced by an SVG tree/DAG.
//   graph: /api/lineage's {nodes, edges}; options: {current, onOpen(id), onSelect(ids)}
export function lineageGraph(container, graph, options = {}) {
  container.replaceChildren(h("ul", { className: "tree" }, graph.nodes.map((n) =>
    h("li", { className: n.id === options.current ? "current" : "", dataset: { node: n.id } }, runLink(n.id)))));
}
