/* The dispensary's stock: on hand by product, lot and location; low stock; expiring soon; receive,
   adjust and transfer; movement history; CSV export. Everything goes through the FHIR API. */
"use strict";

const PRODUCT_EXTENSION = "https://fhir-server.org/fhir/StructureDefinition/stock-product";

staff.start(async () => {
  const filter = document.getElementById("filter");
  const receive = document.getElementById("receive");
  const move = document.getElementById("move");
  const state = { locations: new Map(), products: new Map(), rows: [] };
  const lang = document.documentElement.lang || "en";
  const number = (value) => new Intl.NumberFormat(lang, { maximumFractionDigits: 6 }).format(Number(value));

  function notice(text) {
    const line = document.getElementById("notice");
    line.textContent = text;
    line.hidden = !text;
  }

  function parts(parameter) {
    const found = {};
    for (const part of parameter.part || []) {
      const key = Object.keys(part).find((k) => k.startsWith("value"));
      found[part.name] = key === "valueReference" ? part.valueReference.reference : part[key];
    }
    return found;
  }

  function locationName(reference) {
    return state.locations.get(reference) || reference;
  }

  function productName(reference) {
    return state.products.get(reference) || reference;
  }

  function status(row, days) {
    if (row.recalled) return staff.word("recalled");
    if (!row.expirationDate) return staff.word("ok");
    const today = new Date().toISOString().slice(0, 10);
    if (row.expirationDate < today) return staff.word("expired");
    const horizon = new Date(Date.now() + days * 86400000).toISOString().slice(0, 10);
    return row.expirationDate <= horizon ? staff.word("expiring") : staff.word("ok");
  }

  function options(select, entries, blank) {
    select.replaceChildren(...(blank ? [blank] : []), ...entries.map(([value, text]) => staff.el("option", { value }, text)));
  }

  function show(tableId, noneId, trs) {
    document.querySelector(`#${tableId} tbody`).replaceChildren(...trs);
    document.getElementById(tableId).hidden = trs.length === 0;
    document.getElementById(noneId).hidden = trs.length !== 0;
  }

  function td(text, numeric) {
    return staff.el("td", numeric ? { class: "number" } : {}, text);
  }

  async function loadDirectory() {
    const locations = await staff.fhir("Location?_count=500&_sort=name");
    for (const entry of locations.entry || []) state.locations.set(`Location/${entry.resource.id}`, entry.resource.name || entry.resource.id);
    const medications = await staff.fhir("Medication?_count=1000");
    const products = [];
    for (const entry of medications.entry || []) {
      const medication = entry.resource;
      const name = staff.codeText(medication.code) || medication.id;
      if (!medication.batch) {
        state.products.set(`Medication/${medication.id}`, name);
        products.push([`Medication/${medication.id}`, name]);
      }
    }
    const places = [...state.locations.entries()];
    const current = filter.location.value;
    options(filter.location, places, filter.location.options[0]);
    filter.location.value = current;
    options(receive.location, places);
    options(move.to, places);
    options(receive.product, products.sort((a, b) => a[1].localeCompare(b[1], lang)));
  }

  async function loadStock() {
    const days = Number(filter.days.value) || 60;
    const query = new URLSearchParams({ _count: "5000" });
    if (filter.location.value) query.set("location", filter.location.value);
    const answer = await staff.fhir("Medication/$on-hand?" + query);
    state.rows = (answer.parameter || []).map(parts);
    state.rows.sort((a, b) => productName(a.product).localeCompare(productName(b.product), lang) || (a.expirationDate || "").localeCompare(b.expirationDate || ""));
    show("stock", "stock-none", state.rows.map((row) => staff.el("tr", {}, td(productName(row.product)), td(row.lotNumber), td(staff.formatDate(row.expirationDate)), td(locationName(row.location)), td(number(row.onHand), true), td(status(row, days)))));
    const expiring = state.rows.filter((row) => Number(row.onHand) > 0 && status(row, days) !== staff.word("ok"));
    show("expiring", "expiring-none", expiring.map((row) => staff.el("tr", {}, td(productName(row.product)), td(row.lotNumber), td(staff.formatDate(row.expirationDate)), td(locationName(row.location)), td(number(row.onHand), true))));
    const totals = new Map();
    for (const row of state.rows) {
      const key = `${row.product} ${row.location}`;
      const total = totals.get(key) || { product: row.product, location: row.location, onHand: 0, point: row.reorderPoint };
      total.onHand += Number(row.onHand);
      totals.set(key, total);
    }
    const low = [...totals.values()].filter((t) => t.point !== undefined && t.onHand <= Number(t.point));
    show("low", "low-none", low.map((t) => staff.el("tr", {}, td(productName(t.product)), td(locationName(t.location)), td(number(t.onHand), true), td(number(t.point), true))));
    options(move.stock, state.rows.map((row) => [`${row.lot} ${row.location}`, `${productName(row.product)} · ${row.lotNumber} · ${locationName(row.location)} (${number(row.onHand)})`]));
  }

  async function loadHistory() {
    const query = new URLSearchParams({ _count: "50" });
    if (filter.location.value) query.set("location", filter.location.value);
    const answer = await staff.fhir("Medication/$stock-movements?" + query);
    const lots = new Map(state.rows.map((row) => [row.lot, row.lotNumber]));
    const trs = (answer.parameter || []).map(parts).map((entry) =>
      staff.el("tr", {}, td(staff.formatDateTime(entry.at)), td(staff.word(entry.kind)), td(productName(entry.product)), td(lots.get(entry.lot) || entry.lot), td(locationName(entry.location)), td(number(entry.quantity), true), td(number(entry.lotBalance), true)),
    );
    document.querySelector("#history tbody").replaceChildren(...trs);
  }

  async function refresh() {
    await loadStock();
    await loadHistory();
  }

  function parameters(values) {
    const parameter = [];
    for (const [name, value] of Object.entries(values)) {
      if (value === undefined || value === "") continue;
      if (typeof value === "string" && value.includes("/")) parameter.push({ name, valueReference: { reference: value } });
      else if (name === "quantity") parameter.push({ name, valueDecimal: Number(value) });
      else parameter.push({ name, valueString: String(value) });
    }
    return { resourceType: "Parameters", parameter };
  }

  async function lotOf(product, lotNumber, expiry) {
    const found = await staff.fhir("Medication?" + new URLSearchParams({ "lot-number": lotNumber, _count: "50" }));
    const same = (found.entry || []).map((e) => e.resource).find((m) => (m.extension || []).some((x) => x.url === PRODUCT_EXTENSION && x.valueReference.reference === product));
    if (same) return `Medication/${same.id}`;
    const productResource = await staff.fhir(product);
    const lot = await staff.fhir("Medication", {
      method: "POST",
      body: {
        resourceType: "Medication",
        status: "active",
        code: productResource.code,
        form: productResource.form,
        batch: { lotNumber, expirationDate: expiry },
        extension: [{ url: PRODUCT_EXTENSION, valueReference: { reference: product } }],
      },
    });
    return `Medication/${lot.id}`;
  }

  filter.addEventListener("submit", async (event) => {
    event.preventDefault();
    staff.alert("");
    notice("");
    try {
      await refresh();
    } catch (error) {
      staff.showError(error);
    }
  });

  receive.addEventListener("submit", async (event) => {
    event.preventDefault();
    staff.alert("");
    notice("");
    try {
      const lot = await lotOf(receive.product.value, receive.lot.value.trim(), receive.expiry.value);
      await staff.fhir("SupplyDelivery", {
        method: "POST",
        body: {
          resourceType: "SupplyDelivery",
          status: "completed",
          suppliedItem: { quantity: { value: Number(receive.quantity.value) }, itemReference: { reference: lot } },
          destination: { reference: receive.location.value },
          occurrenceDateTime: new Date().toISOString(),
        },
      });
      receive.reset();
      await refresh();
      notice(staff.word("received"));
    } catch (error) {
      staff.showError(error);
    }
  });

  move.action.addEventListener("change", () => {
    for (const box of move.querySelectorAll("[data-for]")) box.hidden = box.dataset.for !== move.action.value;
  });

  move.addEventListener("submit", async (event) => {
    event.preventDefault();
    staff.alert("");
    notice("");
    const [lot, location] = move.stock.value.split(" ");
    try {
      if (move.action.value === "transfer") {
        await staff.fhir(`${lot}/$stock-transfer`, { method: "POST", body: parameters({ from: location, to: move.to.value, quantity: move.quantity.value }) });
      } else {
        await staff.fhir(`${lot}/$stock-adjust`, { method: "POST", body: parameters({ location, quantity: move.quantity.value, reason: move.reason.value }) });
      }
      move.quantity.value = "";
      await refresh();
      notice(staff.word("saved"));
    } catch (error) {
      staff.showError(error);
    }
  });

  document.getElementById("export").addEventListener("click", () => {
    const days = Number(filter.days.value) || 60;
    const quote = (text) => `"${String(text ?? "").replaceAll('"', '""')}"`;
    const lines = [staff.word("csv-header"), ...state.rows.map((row) => [productName(row.product), row.lotNumber, row.expirationDate || "", locationName(row.location), row.onHand, status(row, days)].map(quote).join(","))];
    const link = staff.el("a", { href: URL.createObjectURL(new Blob([lines.join("\r\n") + "\r\n"], { type: "text/csv" })), download: "stock.csv" });
    document.body.append(link);
    link.click();
    link.remove();
  });

  await loadDirectory();
  await refresh();
});
