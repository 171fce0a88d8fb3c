/* Find a patient by name and/or date of birth: the shell's example page (docs/staff-pages.md). */
"use strict";

staff.start(async () => {
  const form = document.getElementById("find");
  const rows = document.querySelector("#results tbody");

  function recordNumber(patient) {
    const mrn = (patient.identifier || []).find((id) => ((id.type || {}).coding || []).some((c) => c.code === "MR"));
    return (mrn || (patient.identifier || [])[0] || {}).value || "";
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    staff.alert("");
    const query = new URLSearchParams({ _count: "50", _sort: "family,given" });
    if (form.name.value.trim()) query.set("name", form.name.value.trim());
    if (form.birthdate.value) query.set("birthdate", form.birthdate.value);
    try {
      const bundle = await staff.fhir("Patient?" + query);
      const patients = (bundle.entry || []).map((entry) => entry.resource);
      rows.replaceChildren(
        ...patients.map((p) =>
          staff.el("tr", {}, staff.el("td", {}, staff.personName(p.name)), staff.el("td", {}, staff.formatDate(p.birthDate)), staff.el("td", {}, recordNumber(p))),
        ),
      );
      document.getElementById("results").hidden = patients.length === 0;
      document.getElementById("empty").hidden = patients.length !== 0;
    } catch (error) {
      staff.showError(error);
    }
  });
});
