/**
 * Reading docs/grafana-dashboard.json as Grafana would run it against Prometheus: every panel
 * target's query, the template variables' `label_values()` queries, and Grafana's substitution of
 * a multi-value variable into a regex matcher (`=~"$lease"` becomes `=~"(a|b)"`).
 */

export interface DashboardJson {
  templating?: { list?: { name: string; type: string; query?: unknown }[] };
  panels: { title: string; targets?: { refId?: string; expr?: string }[] }[];
}

/** One query a panel runs. */
export interface PanelQuery {
  readonly panel: string;
  readonly refId: string;
  readonly expr: string;
}

/** A `query` variable defined as `label_values(metric, label)`. */
export interface LabelValuesVariable {
  readonly name: string;
  readonly match: string;
  readonly label: string;
}

export function panelQueries(dashboard: DashboardJson): PanelQuery[] {
  return dashboard.panels.flatMap((p) => (p.targets ?? []).map((t, i) => ({ panel: p.title, refId: t.refId ?? String.fromCharCode(65 + i), expr: t.expr ?? '' })));
}

/** The dashboard's query variables; anything but `label_values(metric, label)` is refused. */
export function labelValuesVariables(dashboard: DashboardJson): LabelValuesVariable[] {
  return (dashboard.templating?.list ?? [])
    .filter((v) => v.type === 'query')
    .map((v) => {
      const m = /^label_values\(\s*([^,]+?)\s*,\s*([a-zA-Z_]\w*)\s*\)$/.exec(String(v.query));
      if (!m) throw new Error(`variable ${v.name}: only label_values(metric, label) is understood here, got ${JSON.stringify(v.query)}`);
      return { name: v.name, match: m[1]!, label: m[2]! };
    });
}

/** Escapes a value for a regex inside a PromQL double-quoted string (`.` becomes `\\.`). */
function promRegexLiteral(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, (c) => `\\\\${c}`).replace(/"/g, '\\"');
}

/**
 * Substitutes `$name`, `${name}` and `[[name]]` with the variable's values as Grafana formats a
 * multi-value variable for Prometheus: `(v1|v2)`. A variable it does not know is an error, so a
 * new variable (or `$__rate_interval`) in the dashboard makes the check say so.
 */
export function substituteVariables(expr: string, values: Readonly<Record<string, readonly string[]>>): string {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/g, (whole, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c)!;
    const vals = values[name];
    if (vals === undefined) throw new Error(`unknown dashboard variable ${whole} in ${expr}`);
    if (vals.length === 0) throw new Error(`variable ${name} has no values`);
    return `(${vals.map(promRegexLiteral).join('|')})`;
  });
}
