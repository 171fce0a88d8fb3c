/* The fee sheet of one visit (?encounter=id): its charges with codes, modifiers, units and diagnosis
   pointers; lines are priced by the server ($charge), never here; "Create the claim" runs $claim and
   lists every problem the server finds. Without ?encounter it lists the finished visits. */
"use strict";

const CPT = "http://www.ama-assn.org/go/cpt";
const ICD10 = "http://hl7.org/fhir/sid/icd-10-cm";
const MODIFIER = "urn:fhir-server:charge-modifier";

staff.start(async () => {
  const encounterId = new URLSearchParams(location.search).get("encounter");
  if (encounterId) await showSheet(encounterId);
  else await listVisits();
});

async function listVisits() {
  const bundle = await staff.fhir("Encounter?status=finished&_sort=-date&_count=50&_include=Encounter:subject");
  const entries = (bundle.entry || []).map((e) => e.resource);
  const patients = new Map(entries.filter((r) => r.resourceType === "Patient").map((p) => ["Patient/" + p.id, p]));
  const visits = entries.filter((r) => r.resourceType === "Encounter");
  document.querySelector("#visit-list tbody").replaceChildren(
    ...visits.map((visit) => {
      const patient = patients.get((visit.subject || {}).reference);
      const link = staff.el("a", { href: "?encounter=" + encodeURIComponent(visit.id) }, staff.formatDate((visit.period || {}).start));
      return staff.el(
        "tr",
        {},
        staff.el("td", {}, link),
        staff.el("td", {}, patient ? staff.personName(patient.name) : ""),
        staff.el("td", {}, staff.codeText((visit.type || [])[0]) || staff.codeText({ coding: [visit.class || {}] })),
      );
    }),
  );
  document.getElementById("no-visits").hidden = visits.length > 0;
  document.getElementById("visits").hidden = false;
}

function codesOf(concepts, system) {
  return (concepts || []).flatMap((c) => (c.coding || []).filter((x) => x.system === system).map((x) => x.code));
}

function splitCodes(text) {
  return text.split(/[\s,;]+/).map((c) => c.trim().toUpperCase()).filter(Boolean);
}

async function showSheet(encounterId) {
  const sheet = document.getElementById("sheet");
  const encounter = await staff.fhir("Encounter/" + encodeURIComponent(encounterId));
  const patient = await staff.fhir(encounter.subject.reference);
  document.getElementById("visit-summary").textContent = staff.word("visit", {
    patient: staff.personName(patient.name),
    date: staff.formatDate((encounter.period || {}).start),
  });
  await showDiagnoses(encounter);
  await showCharges(encounterId);
  document.getElementById("add").addEventListener("submit", (event) => addCode(event, encounterId));
  document.getElementById("make-claim").addEventListener("click", () => makeClaim(encounterId));
  sheet.hidden = false;
}

async function showDiagnoses(encounter) {
  const ranked = [...(encounter.diagnosis || [])].sort((a, b) => (a.rank || 1000) - (b.rank || 1000));
  const items = [];
  for (const diagnosis of ranked) {
    const reference = (diagnosis.condition || {}).reference || "";
    if (!reference.startsWith("Condition/")) continue;
    const condition = await staff.fhir(reference);
    const code = codesOf([condition.code], ICD10)[0] || "";
    items.push(staff.el("li", {}, staff.el("strong", {}, code), " ", staff.codeText(condition.code) === code ? "" : staff.codeText(condition.code)));
  }
  document.getElementById("diagnoses").replaceChildren(...items);
}

async function showCharges(encounterId) {
  const bundle = await staff.fhir("ChargeItem?context=Encounter/" + encodeURIComponent(encounterId) + "&_count=100");
  const charges = (bundle.entry || []).map((e) => e.resource).filter((c) => c.status === "billable");
  charges.sort((a, b) => String(a.enteredDate).localeCompare(String(b.enteredDate)));
  document.querySelector("#charges tbody").replaceChildren(...charges.map((charge) => row(encounterId, charge)));
}

function row(encounterId, charge) {
  const coding = (charge.code.coding || [])[0] || {};
  const modifiers = (charge.extension || []).filter((e) => e.url === MODIFIER).map((e) => e.valueCoding.code);
  const units = staff.el("input", { type: "number", min: "0.01", step: "any", size: "4", value: String((charge.quantity || {}).value || 1), "aria-label": "units" });
  const modifierInput = staff.el("input", { size: "6", value: modifiers.join(", "), "aria-label": "modifiers" });
  const diagnoses = staff.el("input", { size: "16", value: codesOf(charge.reason, ICD10).join(", "), "aria-label": "diagnoses" });
  const price = charge.priceOverride ? staff.formatMoney(charge.priceOverride) : staff.word("no-price");
  const save = staff.el("button", { type: "button", class: "secondary", onclick: () => saveLine(encounterId, charge, { units, modifierInput, diagnoses }) }, staff.word("save"));
  const remove = staff.el("button", { type: "button", class: "danger", onclick: () => removeLine(encounterId, charge) }, staff.word("remove"));
  return staff.el(
    "tr",
    { "data-code": coding.code },
    staff.el("td", {}, coding.code || ""),
    staff.el("td", {}, coding.display || ""),
    staff.el("td", {}, modifierInput),
    staff.el("td", {}, units),
    staff.el("td", {}, diagnoses),
    staff.el("td", { class: "number price" }, price),
    staff.el("td", {}, save, " ", remove),
  );
}

function notice(text) {
  const box = document.getElementById("notice");
  box.textContent = text;
  box.hidden = !text;
}

async function saveLine(encounterId, charge, inputs) {
  staff.alert("");
  notice("");
  const reasons = splitCodes(inputs.diagnoses.value);
  if (reasons.length > 4) return staff.alert(staff.word("too-many"));
  try {
    const coding = (charge.code.coding || [])[0] || {};
    if (inputs.units.value !== String((charge.quantity || {}).value || 1)) {
      const query = new URLSearchParams({ code: (coding.system ? coding.system + "|" : "") + coding.code, units: inputs.units.value, chargeItem: "ChargeItem/" + charge.id });
      await staff.fhir("Encounter/" + encodeURIComponent(encounterId) + "/$charge?" + query, { method: "POST" });
    }
    // A JSON Patch leaves the price as the server wrote it (a whole PUT would send it back through a float).
    const others = (charge.extension || []).filter((e) => e.url !== MODIFIER);
    const modifiers = splitCodes(inputs.modifierInput.value).map((code) => ({ url: MODIFIER, valueCoding: { system: CPT, code } }));
    const patch = [];
    const extension = [...others, ...modifiers];
    const reason = reasons.map((code) => ({ coding: [{ system: ICD10, code }] }));
    if (extension.length) patch.push({ op: "add", path: "/extension", value: extension });
    else if (charge.extension) patch.push({ op: "remove", path: "/extension" });
    if (reason.length) patch.push({ op: "add", path: "/reason", value: reason });
    else if (charge.reason) patch.push({ op: "remove", path: "/reason" });
    if (patch.length) await staff.fhir("ChargeItem/" + charge.id, { method: "PATCH", body: patch, headers: { "Content-Type": "application/json-patch+json" } });
    await showCharges(encounterId);
    notice(staff.word("saved"));
  } catch (error) {
    staff.showError(error);
  }
}

async function removeLine(encounterId, charge) {
  staff.alert("");
  notice("");
  try {
    const patch = [{ op: "replace", path: "/status", value: "entered-in-error" }];
    await staff.fhir("ChargeItem/" + charge.id, { method: "PATCH", body: patch, headers: { "Content-Type": "application/json-patch+json" } });
    await showCharges(encounterId);
    notice(staff.word("removed"));
  } catch (error) {
    staff.showError(error);
  }
}

async function addCode(event, encounterId) {
  event.preventDefault();
  staff.alert("");
  notice("");
  const form = event.target;
  const code = form.code.value.trim().toUpperCase();
  try {
    const query = new URLSearchParams({ code: /^\d{4}[0-9A-Z]$/.test(code) ? CPT + "|" + code : code, units: form.units.value || "1" });
    await staff.fhir("Encounter/" + encodeURIComponent(encounterId) + "/$charge?" + query, { method: "POST" });
    form.code.value = "";
    form.units.value = "1";
    await showCharges(encounterId);
  } catch (error) {
    staff.showError(error);
  }
}

async function makeClaim(encounterId) {
  staff.alert("");
  notice("");
  const problems = document.getElementById("claim-problems");
  problems.hidden = true;
  try {
    await staff.fhir("Encounter/" + encodeURIComponent(encounterId) + "/$claim", { method: "POST" });
    notice(staff.word("claim-made"));
  } catch (error) {
    const issues = ((error.outcome || {}).issue || []);
    if (!issues.length) return staff.showError(error);
    problems.replaceChildren(
      ...issues.map((issue) => {
        const line = /Claim\.item\[(\d+)\]/.exec((issue.expression || [""])[0]);
        const where = line ? staff.word("line", { number: Number(line[1]) + 1 }) + ": " : "";
        return staff.el("li", {}, where + ((issue.details || {}).text || issue.diagnostics || ""));
      }),
    );
    problems.hidden = false;
  }
}
