/* The front-desk calendar: a day or week of one practitioner or room, its free times ($find) and its
   appointments; book for a patient, reschedule, cancel and check in through the scheduling operations. */
"use strict";

staff.start(async () => {
  const show = document.getElementById("show");
  const who = document.getElementById("who");
  const board = document.getElementById("board");
  const chosen = document.getElementById("chosen");
  const movingNote = document.getElementById("moving");
  let patient = null; // {reference, name}
  let moving = null; // {id, name}
  const names = new Map(); // "Patient/1" -> display name

  function isoDay(date) {
    return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, "0")}-${String(date.getDate()).padStart(2, "0")}`;
  }

  async function loadActors() {
    const bundle = await staff.fhir("Schedule?active=true&_count=200");
    const refs = [...new Set((bundle.entry || []).flatMap((e) => (e.resource.actor || []).map((a) => a.reference)))];
    const options = [];
    for (const ref of refs) {
      let label = ref;
      try {
        const actor = await staff.fhir(ref);
        label = actor.resourceType === "Location" ? actor.name : staff.personName(actor.name);
      } catch (error) {
        /* a schedule of something this user cannot read: shown by its reference */
      }
      options.push(staff.el("option", { value: ref }, label || ref));
    }
    who.replaceChildren(...options);
  }

  function span() {
    const [year, month, day] = show.day.value.split("-").map(Number);
    const start = new Date(year, month - 1, day);
    const end = new Date(year, month - 1, day + Number(show.view.value));
    return { start, end };
  }

  function patientOf(appointment) {
    const part = (appointment.participant || []).find((p) => ((p.actor || {}).reference || "").startsWith("Patient/"));
    const ref = part ? part.actor.reference : "";
    return names.get(ref) || (part && part.actor.display) || "";
  }

  async function act(work, done) {
    staff.alert("");
    try {
      const answer = await work();
      const text = done ? done(answer) : "";
      await render();
      showNotice(text);
    } catch (error) {
      if (error.status === 409) {
        staff.alert(staff.word("conflict"));
        await render();
      } else {
        staff.showError(error);
      }
    }
  }

  function showNotice(text) {
    chosen.textContent = text;
    chosen.hidden = !text;
  }

  function parameters(list) {
    return { resourceType: "Parameters", parameter: list };
  }

  function freeRow(proposal) {
    const button = moving
      ? staff.el("button", {
          type: "button",
          onclick: () =>
            act(
              () =>
                staff.fhir(`Appointment/${moving.id}/$reschedule`, {
                  method: "POST",
                  body: parameters([
                    { name: "start", valueInstant: proposal.start },
                    { name: "end", valueInstant: proposal.end },
                    ...(proposal.slot || []).map((s) => ({ name: "slot", valueReference: s })),
                  ]),
                }),
              () => {
                const text = staff.word("moved-done", { name: moving.name, time: staff.formatDateTime(proposal.start) });
                moving = null;
                movingNote.hidden = true;
                return text;
              },
            ),
        }, staff.word("move-here"))
      : staff.el("button", {
          type: "button",
          onclick: () => {
            if (!patient) {
              staff.alert(staff.word("choose-first"));
              return;
            }
            const booked = patient;
            return act(
              () =>
                staff.fhir("Appointment/$book", {
                  method: "POST",
                  body: parameters([
                    { name: "appointment-resource", resource: proposal },
                    { name: "patient", valueReference: { reference: booked.reference } },
                  ]),
                }),
              () => staff.word("booked-done", { name: booked.name, time: staff.formatDateTime(proposal.start) }),
            );
          },
        }, staff.word("book"));
    return staff.el("tr", { class: "free" }, staff.el("td", {}, staff.formatTime(proposal.start)), staff.el("td", {}, staff.word("free")), staff.el("td", {}, button));
  }

  function appointmentRow(appointment) {
    const name = patientOf(appointment);
    const buttons = [];
    const operation = (code, body, done) =>
      act(() => staff.fhir(`Appointment/${appointment.id}/$${code}`, { method: "POST", body }), () => staff.word(done, { name }));
    if (appointment.status === "booked") {
      buttons.push(staff.el("button", { type: "button", onclick: () => operation("check-in", undefined, "checked-in-done") }, staff.word("check-in")));
    }
    if (appointment.status === "booked" || appointment.status === "pending") {
      buttons.push(
        staff.el("button", {
          type: "button",
          class: "secondary",
          onclick: () => {
            moving = { id: appointment.id, name };
            movingNote.textContent = staff.word("moving", { name });
            movingNote.hidden = false;
            render();
          },
        }, staff.word("reschedule")),
      );
      buttons.push(staff.el("button", { type: "button", class: "danger", onclick: () => operation("cancel", parameters([]), "cancelled-done") }, staff.word("cancel")));
    }
    const status = staff.word(`status-${appointment.status}`) || appointment.status;
    return staff.el("tr", { class: `appointment ${appointment.status}` }, staff.el("td", {}, staff.formatTime(appointment.start)), staff.el("td", {}, `${name} · ${status}`), staff.el("td", {}, ...buttons));
  }

  async function render() {
    if (!who.value || !show.day.value) return;
    const { start, end } = span();
    const kind = who.value.startsWith("Location/") ? "location" : "practitioner";
    const find = new URLSearchParams({ start: start.toISOString(), end: end.toISOString(), [kind]: who.value, _count: "500" });
    const search = new URLSearchParams({ actor: who.value, _count: "500", _include: "Appointment:patient", _sort: "date" });
    search.append("date", `ge${start.toISOString()}`);
    search.append("date", `lt${end.toISOString()}`);
    const [free, booked] = await Promise.all([staff.fhir(`Appointment/$find?${find}`), staff.fhir(`Appointment?${search}`)]);
    for (const entry of booked.entry || []) {
      if (entry.resource.resourceType === "Patient") names.set(`Patient/${entry.resource.id}`, staff.personName(entry.resource.name));
    }
    const items = [
      ...(free.entry || []).map((e) => ({ start: e.resource.start, row: () => freeRow(e.resource) })),
      ...(booked.entry || []).filter((e) => e.resource.resourceType === "Appointment").map((e) => ({ start: e.resource.start, row: () => appointmentRow(e.resource) })),
    ].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    const days = new Map();
    for (const item of items) {
      const key = isoDay(new Date(item.start));
      if (!days.has(key)) days.set(key, []);
      days.get(key).push(item.row());
    }
    document.getElementById("nothing").hidden = items.length !== 0;
    board.replaceChildren(
      ...[...days].map(([key, rows]) =>
        staff.el("section", { class: "day" }, staff.el("h2", {}, staff.formatDay(key)), staff.el("table", {}, staff.el("tbody", {}, ...rows))),
      ),
    );
  }

  document.getElementById("find-patient").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const query = new URLSearchParams({ _count: "20", _sort: "family,given" });
    if (form.name.value.trim()) query.set("name", form.name.value.trim());
    if (form.birthdate.value) query.set("birthdate", form.birthdate.value);
    try {
      const bundle = await staff.fhir(`Patient?${query}`);
      const found = (bundle.entry || []).map((e) => e.resource);
      const list = document.getElementById("patients");
      list.replaceChildren(
        ...found.map((p) => {
          const name = staff.personName(p.name);
          return staff.el(
            "li",
            {},
            `${name} (${staff.formatDate(p.birthDate)}) `,
            staff.el("button", {
              type: "button",
              class: "secondary",
              onclick: () => {
                patient = { reference: `Patient/${p.id}`, name };
                names.set(patient.reference, name);
                list.replaceChildren();
                staff.alert("");
                showNotice(staff.word("chosen", { name }));
              },
            }, staff.word("choose")),
          );
        }),
      );
      if (found.length === 0) list.replaceChildren(staff.el("li", {}, staff.word("no-patient")));
    } catch (error) {
      staff.showError(error);
    }
  });

  show.addEventListener("submit", (event) => {
    event.preventDefault();
    staff.alert("");
    render().catch(staff.showError);
  });

  show.day.value = isoDay(new Date(Date.now() + 24 * 3600 * 1000));
  try {
    await loadActors();
    await render();
  } catch (error) {
    staff.showError(error);
  }
});
