/* Reports: pick one the user's role may run ($reports), give its period, see its rows ($report) as a
   table and as the bar or line chart it declares (SVG drawn here), or download them as CSV. */
"use strict";

staff.start(async () => {
  const SVG = "http://www.w3.org/2000/svg";
  const COLOURS = ["#1f6feb", "#d97706", "#16a34a", "#dc2626", "#7c3aed"];
  const lang = document.documentElement.lang || "en";
  const numbers = new Intl.NumberFormat(lang, { maximumFractionDigits: 2 });
  const months = new Intl.DateTimeFormat(lang, { year: "numeric", month: "short" });
  const form = document.getElementById("pick");
  const fields = document.getElementById("fields");

  function label(kind, name) {
    const key = kind + "-" + name;
    const found = staff.word(key);
    return found === key ? name.replaceAll("_", " ") : found;
  }

  function part(parts, name) {
    return (parts || []).filter((p) => p.name === name);
  }

  function value(parameter) {
    const key = Object.keys(parameter).find((k) => k.startsWith("value"));
    return key ? parameter[key] : undefined;
  }

  function described(entry) {
    const one = (parts, name) => value(part(parts, name)[0] || {});
    const chart = part(entry.part, "chart")[0];
    return {
      name: one(entry.part, "name"),
      title: one(entry.part, "title"),
      parameters: part(entry.part, "parameter").map((p) => ({ name: one(p.part, "name"), type: one(p.part, "type"), required: one(p.part, "required") })),
      chart: chart && { kind: one(chart.part, "kind"), x: one(chart.part, "x"), y: part(chart.part, "y").map(value) },
    };
  }

  function iso(date) {
    return [date.getFullYear(), String(date.getMonth() + 1).padStart(2, "0"), String(date.getDate()).padStart(2, "0")].join("-");
  }

  function initial(parameter) {
    const today = new Date();
    if (parameter.name === "start") return iso(new Date(today.getFullYear(), today.getMonth() - 11, 1));
    if (parameter.name === "until") return iso(new Date(today.getFullYear(), today.getMonth() + 3, today.getDate()));
    return parameter.type === "date" ? iso(today) : "";
  }

  function showFields(report) {
    fields.replaceChildren(
      ...report.parameters.map((p) =>
        staff.el("div", {}, staff.el("label", { for: "p-" + p.name }, label("parameter", p.name)),
          staff.el("input", { id: "p-" + p.name, name: p.name, type: p.type === "date" ? "date" : p.type === "integer" ? "number" : "text", required: p.required, value: initial(p) })),
      ),
    );
  }

  function request(report, format) {
    const parameter = [{ name: "report", valueString: report.name }, { name: "_format", valueCode: format }];
    for (const p of report.parameters) {
      const given = form.elements[p.name].value;
      if (given) parameter.push({ name: p.name, valueString: given });
    }
    return { resourceType: "Parameters", parameter };
  }

  function shown(column, cell, row) {
    if (cell === null || cell === undefined) return "";
    if (typeof cell === "number") {
      return row.currency && column === "amount" ? staff.formatMoney({ value: String(cell), currency: row.currency }) : numbers.format(cell);
    }
    if (typeof cell === "boolean") return cell ? "✓" : "";
    const text = String(cell);
    if (/^\d{4}-\d{2}-\d{2}$/.test(text)) return staff.formatDate(text);
    if (/^\d{4}-\d{2}$/.test(text)) return months.format(new Date(Number(text.slice(0, 4)), Number(text.slice(5)) - 1, 1));
    return text;
  }

  function showTable(rows) {
    const table = document.getElementById("rows");
    const columns = rows.length ? Object.keys(rows[0]) : [];
    const numeric = new Set(columns.filter((c) => rows.every((r) => r[c] === null || typeof r[c] === "number")));
    const cls = (c) => (numeric.has(c) ? "number" : null);
    table.tHead.rows[0].replaceChildren(...columns.map((c) => staff.el("th", { class: cls(c) }, label("column", c))));
    table.tBodies[0].replaceChildren(...rows.map((r) => staff.el("tr", {}, ...columns.map((c) => staff.el("td", { class: cls(c) }, shown(c, r[c], r))))));
    table.hidden = rows.length === 0;
    document.getElementById("empty").hidden = rows.length !== 0;
  }

  function svg(tag, attributes = {}, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, v] of Object.entries(attributes)) node.setAttribute(name, String(v));
    node.append(...children);
    return node;
  }

  /* Rows sharing a category are summed (a report per provider and day charts the day's total). */
  function series(rows, chart) {
    const totals = new Map();
    for (const row of rows) {
      const key = row[chart.x] === null || row[chart.x] === undefined ? "" : String(row[chart.x]);
      const sums = totals.get(key) || chart.y.map(() => 0);
      chart.y.forEach((column, i) => (sums[i] += Number(row[column]) || 0));
      totals.set(key, sums);
    }
    return [...totals.entries()];
  }

  function showChart(rows, chart) {
    const box = document.getElementById("chart-box");
    box.hidden = !chart || rows.length === 0;
    if (box.hidden) return;
    const points = series(rows, chart);
    const width = 860, height = 330, left = 56, right = 16, top = 36, bottom = 90;
    const top_value = Math.max(1, ...points.flatMap(([, sums]) => sums));
    const plotW = width - left - right, plotH = height - top - bottom;
    const y = (v) => top + plotH - (v / top_value) * plotH;
    const step = plotW / points.length;
    const drawing = svg("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", role: "img", "aria-label": staff.word("chart-label"), class: "chart " + chart.kind });
    for (const fraction of [0, 0.5, 1]) {
      const v = top_value * fraction;
      drawing.append(svg("line", { x1: left, x2: width - right, y1: y(v), y2: y(v), stroke: "#e5e7eb" }));
      drawing.append(svg("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", "font-size": 11, fill: "#555" }, numbers.format(v)));
    }
    const every = Math.ceil(points.length / 16);
    points.forEach(([key], i) => {
      if (i % every) return;
      const x = left + step * (i + 0.5);
      drawing.append(svg("text", { x, y: height - bottom + 14, "text-anchor": "end", "font-size": 11, fill: "#333", transform: `rotate(-35 ${x} ${height - bottom + 14})` }, shown(chart.x, key, {}).slice(0, 24)));
    });
    chart.y.forEach((column, s) => {
      const colour = COLOURS[s % COLOURS.length];
      if (chart.kind === "line") {
        const path = points.map(([, sums], i) => `${left + step * (i + 0.5)},${y(sums[s])}`).join(" ");
        drawing.append(svg("polyline", { points: path, fill: "none", stroke: colour, "stroke-width": 2, class: "series" }));
        points.forEach(([, sums], i) => drawing.append(svg("circle", { cx: left + step * (i + 0.5), cy: y(sums[s]), r: 3, fill: colour, class: "point" })));
        return;
      }
      const barW = (step * 0.8) / chart.y.length;
      points.forEach(([key, sums], i) => {
        const x = left + step * i + step * 0.1 + barW * s;
        const bar = svg("rect", { x, y: y(sums[s]), width: Math.max(1, barW - 1), height: y(0) - y(sums[s]), fill: colour, class: "bar" });
        bar.append(svg("title", {}, `${shown(chart.x, key, {})}: ${label("column", column)} ${numbers.format(sums[s])}`));
        drawing.append(bar);
      });
    });
    chart.y.forEach((column, s) => {
      const x = left + 8 + s * 170;
      drawing.append(svg("rect", { x, y: 6, width: 12, height: 12, fill: COLOURS[s % COLOURS.length] }));
      drawing.append(svg("text", { x: x + 18, y: 16, "font-size": 12, fill: "#333" }, label("column", column)));
    });
    document.getElementById("chart").replaceChildren(drawing);
  }

  const listing = await staff.fhir("$reports");
  const reports = (listing.parameter || []).map(described);
  document.getElementById("none").hidden = reports.length !== 0;
  form.hidden = reports.length === 0;
  if (!reports.length) return;
  const chosen = () => reports.find((r) => r.name === form.report.value);
  form.report.replaceChildren(...reports.map((r) => staff.el("option", { value: r.name }, r.title)));
  form.report.addEventListener("change", () => {
    showFields(chosen());
    showTable([]);
    document.getElementById("empty").hidden = true;
    showChart([], null);
  });
  showFields(chosen());

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    staff.alert("");
    try {
      const report = chosen();
      const rows = await staff.fhir("$report", { method: "POST", body: request(report, "json") });
      showTable(rows);
      showChart(rows, report.chart);
    } catch (error) {
      staff.showError(error);
    }
  });

  document.getElementById("csv").addEventListener("click", async () => {
    staff.alert("");
    if (!form.reportValidity()) return;
    try {
      const report = chosen();
      await staff.download("$report", report.name + ".csv", { method: "POST", body: request(report, "csv") });
    } catch (error) {
      staff.showError(error);
    }
  });
});
