//! The chain of transmission as a server-generated SVG (no script): cases are nodes, a contact
//! of case A who became case B is an arrow A → B.
//!
//! Layout is deterministic and layered: generations left → right by breadth-first depth from
//! the roots (cases nobody in the graph infected; in a cycle without one, the first case by
//! date), nodes sorted within a generation by first positive then id. Each case is placed once,
//! so cycles and self-links end. Backward arrows (a cycle) curve below the nodes; a self-link
//! is a small loop.
//!
//! Privacy (DOMAIN.md §12): a node shows the case's initials and a short id (last six hex
//! digits of its id) — never a full name — and cases outside the viewer's scope show only the
//! short id. Every text is escaped.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt::Write;

use chrono::NaiveDate;
use domain::surveillance::{Outcome, Severity};
use uuid::Uuid;

use crate::i18n::Lang;

/// Most nodes drawn (the page stays under 100 KB); the rest is counted in a note.
pub const MAX_NODES: usize = 80;

const NODE_W: f64 = 96.0;
const NODE_H: f64 = 36.0;
const COL_W: f64 = 150.0;
const ROW_H: f64 = 52.0;
const MARGIN: f64 = 16.0;
const LEGEND_H: f64 = 40.0;

/// One case as the graph shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphNode {
    pub id: Uuid,
    /// Initials (or a dash when the viewer may not see the case).
    pub label: String,
    pub severity: Severity,
    pub died: bool,
    /// Orders nodes within a generation.
    pub first_positive: NaiveDate,
    /// The case the graph is centred on.
    pub focus: bool,
    /// The viewer may see the case (else drawn grey, short id only).
    pub visible: bool,
}

/// Initials of a name ("Nguyễn Văn An" → "NVA"), at most four letters.
pub fn initials(full_name: &str) -> String {
    full_name
        .split_whitespace()
        .filter_map(|w| w.chars().find(|c| c.is_alphabetic()))
        .flat_map(char::to_uppercase)
        .take(4)
        .collect()
}

/// The last six hex digits of an id, upper case ("#1A2B3C").
pub fn short_id(id: Uuid) -> String {
    let s = id.simple().to_string();
    format!("#{}", s[s.len() - 6..].to_uppercase())
}

/// Escapes text for XML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

fn fill(n: &GraphNode) -> (&'static str, &'static str) {
    if !n.visible {
        return ("#e3e7ec", "#5b6673");
    }
    if n.died {
        return ("#3b3f45", "#ffffff");
    }
    match n.severity {
        Severity::Asymptomatic => ("#d8efdc", "#1b1f24"),
        Severity::Mild => ("#9fd3a8", "#1b1f24"),
        Severity::Moderate => ("#f6cf57", "#1b1f24"),
        Severity::Severe => ("#f08c3a", "#1b1f24"),
        Severity::Critical => ("#c92a2a", "#ffffff"),
    }
}

fn severity_label(lang: Lang, s: Severity) -> &'static str {
    match s {
        Severity::Asymptomatic => lang.t("Không triệu chứng", "Asymptomatic"),
        Severity::Mild => lang.t("Nhẹ", "Mild"),
        Severity::Moderate => lang.t("Trung bình", "Moderate"),
        Severity::Severe => lang.t("Nặng", "Severe"),
        Severity::Critical => lang.t("Nguy kịch", "Critical"),
    }
}

/// Where each node goes: generation (column) and row within it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Node indices (into the sorted, deduplicated nodes) with their column and row.
    pub place: Vec<(usize, usize)>,
    pub columns: usize,
    pub rows: usize,
}

/// Sorts and deduplicates nodes (by first positive, then id) and keeps the links between known
/// nodes once each.
fn normalise(nodes: &[GraphNode], links: &[(Uuid, Uuid)]) -> (Vec<GraphNode>, Vec<(usize, usize)>) {
    let mut ns: Vec<GraphNode> = Vec::with_capacity(nodes.len());
    let mut seen = BTreeSet::new();
    let mut sorted: Vec<&GraphNode> = nodes.iter().collect();
    sorted.sort_by_key(|a| (a.first_positive, a.id));
    for n in sorted {
        if seen.insert(n.id) {
            ns.push(n.clone());
        }
    }
    let index: HashMap<Uuid, usize> = ns.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
    let es: BTreeSet<(usize, usize)> = links
        .iter()
        .filter_map(|(a, b)| Some((*index.get(a)?, *index.get(b)?)))
        .collect();
    (ns, es.into_iter().collect())
}

/// Layered layout: breadth-first generations from the roots (nodes without an incoming link
/// from another node); nodes left over in cycles start from their first node. Terminates on
/// any graph: each node is placed once.
pub fn layout(n: usize, edges: &[(usize, usize)]) -> Layout {
    let mut out_edges: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut indegree = vec![0usize; n];
    for &(a, b) in edges {
        if a != b {
            out_edges[a].push(b);
            indegree[b] += 1;
        }
    }
    let mut depth: Vec<Option<usize>> = vec![None; n];
    let mut queue: VecDeque<usize> = VecDeque::new();
    for (i, d) in indegree.iter().enumerate() {
        if *d == 0 {
            depth[i] = Some(0);
            queue.push_back(i);
        }
    }
    loop {
        while let Some(u) = queue.pop_front() {
            let du = depth[u].unwrap_or(0);
            for &v in &out_edges[u] {
                if depth[v].is_none() {
                    depth[v] = Some(du + 1);
                    queue.push_back(v);
                }
            }
        }
        // A cycle nobody outside it leads to: start from its first node.
        match depth.iter().position(Option::is_none) {
            Some(i) => {
                depth[i] = Some(0);
                queue.push_back(i);
            }
            None => break,
        }
    }
    let depth: Vec<usize> = depth.into_iter().map(|d| d.unwrap_or(0)).collect();
    let columns = depth.iter().max().map_or(0, |m| m + 1);
    let mut next_row = vec![0usize; columns.max(1)];
    // Nodes are already sorted (first positive, id): rows follow that order.
    let place: Vec<(usize, usize)> = depth
        .iter()
        .map(|&d| {
            let r = next_row[d];
            next_row[d] += 1;
            (d, r)
        })
        .collect();
    Layout {
        place,
        columns,
        rows: next_row.into_iter().max().unwrap_or(0),
    }
}

/// The SVG of a chain. `links` are (from, to) case ids; links to cases not among `nodes` are
/// left out, duplicates drawn once.
pub fn render(lang: Lang, title: &str, nodes: &[GraphNode], links: &[(Uuid, Uuid)]) -> String {
    let mut all = nodes.to_vec();
    all.sort_by(|a, b| (b.focus, a.first_positive, a.id).cmp(&(a.focus, b.first_positive, b.id)));
    let hidden = all.len().saturating_sub(MAX_NODES);
    all.truncate(MAX_NODES);
    let (nodes, edges) = normalise(&all, links);
    let lay = layout(nodes.len(), &edges);
    let width = (MARGIN * 2.0 + COL_W * lay.columns.max(1) as f64 - (COL_W - NODE_W)).max(360.0);
    let height = MARGIN * 2.0 + ROW_H * lay.rows.max(1) as f64 + LEGEND_H + 20.0;
    let pos = |i: usize| {
        let (c, r) = lay.place[i];
        (MARGIN + COL_W * c as f64, MARGIN + ROW_H * r as f64)
    };
    let mut s = String::with_capacity(512 + nodes.len() * 400 + edges.len() * 140);
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" id="transmission-graph" class="transmission-graph" viewBox="0 0 {width:.0} {height:.0}" width="{width:.0}" height="{height:.0}" role="img" aria-label="{t}"><title>{t}</title>"#,
        t = escape(title)
    );
    s.push_str(r##"<defs><marker id="tg-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#5b6673"></path></marker></defs>"##);
    // Shared presentation attributes sit on the groups (inherited) to keep the page small.
    s.push_str(r##"<g class="edges" fill="none" stroke="#5b6673" stroke-width="1.4" marker-end="url(#tg-arrow)">"##);
    for &(a, b) in &edges {
        let (ax, ay) = pos(a);
        let (bx, by) = pos(b);
        let d = if a == b {
            // A loop over the node's top right corner.
            format!(
                "M{:.0},{:.0}C{:.0},{:.0} {:.0},{:.0} {:.0},{:.0}",
                ax + NODE_W - 20.0,
                ay,
                ax + NODE_W - 10.0,
                ay - 24.0,
                ax + NODE_W + 18.0,
                ay - 6.0,
                ax + NODE_W,
                ay + 10.0
            )
        } else if lay.place[b].0 > lay.place[a].0 {
            let (x1, y1, x2, y2) = (ax + NODE_W, ay + NODE_H / 2.0, bx, by + NODE_H / 2.0);
            let mid = (x1 + x2) / 2.0;
            format!("M{x1:.0},{y1:.0}C{mid:.0},{y1:.0} {mid:.0},{y2:.0} {x2:.0},{y2:.0}")
        } else {
            // Backward or within a generation (a cycle): under the nodes.
            let (x1, y1, x2, y2) = (
                ax + NODE_W / 2.0,
                ay + NODE_H,
                bx + NODE_W / 2.0,
                by + NODE_H,
            );
            let low = y1.max(y2) + ROW_H * 0.45;
            format!("M{x1:.0},{y1:.0}C{x1:.0},{low:.0} {x2:.0},{low:.0} {x2:.0},{y2:.0}")
        };
        let _ = write!(
            s,
            r##"<path class="edge" data-from="{}" data-to="{}" d="{d}"></path>"##,
            nodes[a].id, nodes[b].id
        );
    }
    s.push_str(r##"</g><g class="nodes" text-anchor="middle" stroke-width="1">"##);
    for (i, n) in nodes.iter().enumerate() {
        let (x, y) = pos(i);
        let (bg, fg) = fill(n);
        let sid = short_id(n.id);
        let label = if n.visible && !n.label.is_empty() {
            n.label.as_str()
        } else {
            "—"
        };
        let tip = if n.visible {
            let mut t = format!("{label} {sid} · {}", severity_label(lang, n.severity));
            if n.died {
                t.push_str(" · ");
                t.push_str(lang.t("Tử vong", "Died"));
            }
            t
        } else {
            format!(
                "{sid} · {}",
                lang.t("Ngoài phạm vi của bạn", "Outside your scope")
            )
        };
        let stroke = if n.focus { "#1b1f24" } else { "#8a96a3" };
        let sw = if n.focus {
            r#" stroke-width="2.5""#
        } else {
            ""
        };
        let dash = if n.visible {
            ""
        } else {
            r#" stroke-dasharray="4 3""#
        };
        let _ = write!(
            s,
            r#"<g class="node" data-case="{id}" fill="{fg}"><title>{tip}</title><rect x="{x:.0}" y="{y:.0}" width="{NODE_W}" height="{NODE_H}" rx="6" fill="{bg}" stroke="{stroke}"{sw}{dash}></rect><text x="{cx:.0}" y="{ty:.0}" font-size="12" font-weight="bold">{label}</text><text x="{cx:.0}" y="{sy:.0}" font-size="10">{sid}</text></g>"#,
            id = n.id,
            tip = escape(&tip),
            cx = x + NODE_W / 2.0,
            ty = y + 15.0,
            sy = y + 29.0,
            label = escape(label),
            sid = escape(&sid),
        );
    }
    s.push_str("</g>");
    // Legend.
    let ly = height - LEGEND_H + 4.0;
    let mut lx = MARGIN;
    let legend: Vec<(&str, &str)> = Severity::ALL
        .iter()
        .map(|&sv| {
            let n = GraphNode {
                id: Uuid::nil(),
                label: String::new(),
                severity: sv,
                died: false,
                first_positive: NaiveDate::MIN,
                focus: false,
                visible: true,
            };
            (fill(&n).0, severity_label(lang, sv))
        })
        .chain([("#3b3f45", lang.t("Tử vong", "Died"))])
        .collect();
    s.push_str(r#"<g class="legend">"#);
    for (colour, text) in legend {
        let _ = write!(
            s,
            r##"<rect x="{lx:.1}" y="{ly:.1}" width="10" height="10" fill="{colour}" stroke="#8a96a3"></rect><text x="{tx:.1}" y="{ty:.1}" font-size="10" fill="#1b1f24">{t}</text>"##,
            tx = lx + 13.0,
            ty = ly + 9.0,
            t = escape(text)
        );
        lx += 14.0 + 6.5 * text.chars().count() as f64 + 12.0;
    }
    s.push_str("</g>");
    if hidden > 0 {
        let _ = write!(
            s,
            r##"<text class="more" x="{MARGIN}" y="{y:.1}" font-size="11" fill="#5b6673">{t}</text>"##,
            y = height - 6.0,
            t = escape(&format!(
                "{} {hidden} {}",
                lang.t("Còn", "And"),
                lang.t("ca bệnh không vẽ", "more cases not drawn")
            ))
        );
    }
    s.push_str("</svg>");
    s
}

/// A graph node for a case (`visible`: the viewer may see it; `focus`: the centre).
pub fn node_of_case(case: &store::Case, visible: bool, focus: bool) -> GraphNode {
    GraphNode {
        id: case.id,
        label: if visible {
            initials(&case.full_name)
        } else {
            String::new()
        },
        severity: case.severity,
        died: visible && case.outcome == Some(Outcome::Died),
        first_positive: case.first_positive,
        focus,
        visible,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(n: u128, day: u32) -> GraphNode {
        GraphNode {
            id: Uuid::from_u128(n),
            label: format!("N{n}"),
            severity: Severity::Mild,
            died: false,
            first_positive: NaiveDate::from_ymd_opt(2024, 3, day).unwrap(),
            focus: false,
            visible: true,
        }
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    /// Checks that every element is closed in order (no self-closing tags are produced) and
    /// that no raw `<`/`&` escapes into text.
    fn balanced(svg: &str) -> bool {
        let mut stack: Vec<String> = Vec::new();
        let mut rest = svg;
        while let Some(start) = rest.find('<') {
            let text = &rest[..start];
            if text.contains('>') {
                return false;
            }
            let Some(end) = rest[start..].find('>') else {
                return false;
            };
            let tag = &rest[start + 1..start + end];
            if let Some(name) = tag.strip_prefix('/') {
                if stack.pop().as_deref() != Some(name.trim()) {
                    return false;
                }
            } else if !tag.ends_with('/') {
                let name: String = tag.chars().take_while(|c| !c.is_whitespace()).collect();
                stack.push(name);
            }
            rest = &rest[start + end + 1..];
        }
        stack.is_empty() && !rest.contains('>')
    }

    fn count(svg: &str, needle: &str) -> usize {
        svg.matches(needle).count()
    }

    #[test]
    fn one_node_per_case_one_edge_per_link_and_balanced() {
        let nodes = vec![node(1, 1), node(2, 3), node(3, 4), node(4, 5)];
        let links = vec![(id(1), id(2)), (id(1), id(3)), (id(3), id(4))];
        let svg = render(Lang::Vi, "Chuỗi lây nhiễm", &nodes, &links);
        assert!(balanced(&svg), "{svg}");
        assert_eq!(count(&svg, r#"<g class="node""#), 4);
        assert_eq!(count(&svg, r#"<path class="edge""#), 3);
        assert!(svg.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg""#));
        for n in &nodes {
            assert!(svg.contains(&format!(r#"data-case="{}""#, n.id)));
        }
    }

    #[test]
    fn generations_go_left_to_right_and_rows_follow_dates() {
        // 1 → 2, 1 → 3, 3 → 4; 5 alone.
        let edges = vec![(0, 1), (0, 2), (2, 3)];
        let l = layout(5, &edges);
        assert_eq!(l.place, vec![(0, 0), (1, 0), (1, 1), (2, 0), (0, 1)]);
        assert_eq!((l.columns, l.rows), (3, 2));
    }

    #[test]
    fn cycles_self_links_and_duplicates_end() {
        let nodes = vec![node(1, 1), node(2, 2), node(3, 3)];
        // A cycle with no root, a self-link, a duplicate and a link to an unknown case.
        let links = vec![
            (id(1), id(2)),
            (id(2), id(3)),
            (id(3), id(1)),
            (id(2), id(2)),
            (id(1), id(2)),
            (id(1), id(99)),
        ];
        let svg = render(Lang::En, "Chain", &nodes, &links);
        assert!(balanced(&svg));
        assert_eq!(count(&svg, r#"<g class="node""#), 3);
        assert_eq!(count(&svg, r#"<path class="edge""#), 4);
        let (ns, es) = normalise(&nodes, &links);
        let l = layout(ns.len(), &es);
        // The first case by date starts the cycle.
        assert_eq!(l.place, vec![(0, 0), (1, 0), (2, 0)]);
    }

    #[test]
    fn deterministic_whatever_the_input_order() {
        let nodes = vec![node(3, 4), node(1, 1), node(2, 3)];
        let links = vec![(id(1), id(3)), (id(1), id(2))];
        let mut rev_nodes = nodes.clone();
        rev_nodes.reverse();
        let mut rev_links = links.clone();
        rev_links.reverse();
        assert_eq!(
            render(Lang::Vi, "t", &nodes, &links),
            render(Lang::Vi, "t", &rev_nodes, &rev_links)
        );
    }

    #[test]
    fn text_is_escaped_and_names_never_shown() {
        let mut n = node(1, 1);
        n.label = "<script>&\"'".into();
        let mut hidden = node(2, 2);
        hidden.visible = false;
        hidden.label = "Bí Mật".into();
        let svg = render(Lang::Vi, "a<b & \"c\"", &[n, hidden], &[(id(1), id(2))]);
        assert!(balanced(&svg));
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;&amp;&quot;&#39;"));
        assert!(svg.contains("a&lt;b &amp; &quot;c&quot;"));
        assert!(!svg.contains("Bí Mật"));
        assert_eq!(initials("Nguyễn Văn  An"), "NVA");
        assert_eq!(initials("đặng thị ánh"), "ĐTÁ");
        assert_eq!(short_id(Uuid::from_u128(0xabcdef123456)), "#123456");
    }

    #[test]
    fn large_graphs_are_cut_with_a_note() {
        let nodes: Vec<GraphNode> = (0..(MAX_NODES as u128 + 5))
            .map(|i| node(i + 1, 1 + (i % 28) as u32))
            .collect();
        let links: Vec<(Uuid, Uuid)> = (1..nodes.len())
            .map(|i| (nodes[i - 1].id, nodes[i].id))
            .collect();
        let svg = render(Lang::Vi, "t", &nodes, &links);
        assert!(balanced(&svg));
        assert_eq!(count(&svg, r#"<g class="node""#), MAX_NODES);
        assert!(svg.contains("Còn 5 ca bệnh không vẽ"));
        assert!(svg.len() < 40_000, "{}", svg.len());
    }
}
