// Shows the patient in context, their observations and who signed in, read with the token the server granted.
(function () {
  function text(id, value) {
    document.getElementById(id).textContent = value || "";
  }

  function humanName(resource) {
    var name = (resource.name || [])[0] || {};
    var words = [].concat(name.prefix || [], name.given || [], name.family || []);
    return name.text || words.join(" ").trim() || resource.id;
  }

  // A FHIR date ("1971-05-06", or just "1971-05" or "1971") in the browser's language.
  function localDate(value) {
    if (!value) return "";
    var parts = value.split("-").map(Number);
    var day = new Date(Date.UTC(parts[0], (parts[1] || 1) - 1, parts[2] || 1));
    var options = { timeZone: "UTC", year: "numeric" };
    if (parts[1]) options.month = "short";
    if (parts[2]) options.day = "numeric";
    return new Intl.DateTimeFormat(navigator.language, options).format(day);
  }

  function observationLine(observation) {
    var code = observation.code || {};
    var label = code.text || ((code.coding || [])[0] || {}).display || ((code.coding || [])[0] || {}).code;
    var quantity = observation.valueQuantity;
    var value = quantity ? quantity.value + " " + (quantity.unit || quantity.code || "") : (observation.valueString || "");
    return (label || "Observation") + (value ? ": " + value : "");
  }

  // The signed-in user's own record (the fhirUser of the id_token: a Practitioner, Patient ...), by name.
  // Not being able to read it hides the line; the patient's record is still shown.
  function showUser(client) {
    if (!client.user.fhirUser) return Promise.resolve();
    return client.user.read().then(function (user) {
      text("user", humanName(user));
      document.getElementById("signed-in").hidden = false;
    }, function () {});
  }

  function show(client) {
    document.getElementById("details").dataset.patient = client.patient.id;
    return Promise.all([
      client.patient.read(),
      client.request("Observation?patient=" + encodeURIComponent(client.patient.id) + "&_count=50", { pageLimit: 1 }),
      showUser(client)
    ]).then(function (results) {
      var patient = results[0];
      var bundle = results[1];
      text("patient-name", humanName(patient));
      text("patient-birth-date", localDate(patient.birthDate));
      var list = document.getElementById("observations");
      (bundle.entry || []).forEach(function (entry) {
        var item = document.createElement("li");
        item.textContent = observationLine(entry.resource);
        list.appendChild(item);
      });
      booking(client);
      document.body.dataset.ready = "true";
    });
  }

  // Self-booking: $find (free times only) -> $hold (the time is kept for a few minutes) -> $book.
  function booking(client) {
    var form = document.getElementById("find-times");
    var list = document.getElementById("times");
    var note = document.getElementById("booking-note");
    var names = {};
    var tomorrow = new Date(Date.now() + 24 * 3600 * 1000);
    document.getElementById("from").value = tomorrow.toISOString().slice(0, 10);

    function say(message) {
      note.textContent = message;
      note.hidden = !message;
    }

    function when(instant) {
      return new Intl.DateTimeFormat(navigator.language, { dateStyle: "medium", timeStyle: "short" }).format(new Date(instant));
    }

    function operation(name, parameters) {
      return client.request({
        url: "Appointment/" + name,
        method: "POST",
        headers: { "Content-Type": "application/fhir+json" },
        body: JSON.stringify({ resourceType: "Parameters", parameter: parameters })
      });
    }

    function practitionerName(proposal) {
      var refs = (proposal.participant || []).map(function (p) { return p.actor.reference; });
      var ref = refs.filter(function (r) { return r.indexOf("Practitioner/") === 0; })[0];
      if (!ref) return Promise.resolve("");
      if (!names[ref]) names[ref] = client.request(ref).then(humanName, function () { return ""; });
      return names[ref];
    }

    function offer(proposal) {
      var item = document.createElement("li");
      var hold = document.createElement("button");
      hold.type = "button";
      hold.textContent = "Hold this time";
      practitionerName(proposal).then(function (name) {
        item.insertBefore(document.createTextNode(when(proposal.start) + (name ? " with " + name + " " : " ")), hold);
      });
      hold.addEventListener("click", function () {
        operation("$hold", [{ name: "appointment-resource", resource: proposal }]).then(function (held) {
          list.replaceChildren();
          say("Held for you until " + when(held.extension[0].valueInstant) + ".");
          var confirm = document.createElement("button");
          confirm.type = "button";
          confirm.id = "confirm";
          confirm.textContent = "Confirm the booking";
          confirm.addEventListener("click", function () {
            operation("$book", [{ name: "appointment-reference", valueReference: { reference: "Appointment/" + held.id } }])
              .then(function (booked) {
                confirm.remove();
                document.body.dataset.booked = booked.id;
                say("Booked: " + when(booked.start) + ".");
              }, function (error) { say("The booking did not work: " + error.message); });
          });
          note.after(confirm);
        }, function () {
          say("Someone else just took that time. Find free times again.");
        });
      });
      item.appendChild(hold);
      return item;
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var start = new Date(document.getElementById("from").value + "T00:00:00");
      var end = new Date(start.getTime() + 7 * 24 * 3600 * 1000);
      var query = "start=" + encodeURIComponent(start.toISOString()) + "&end=" + encodeURIComponent(end.toISOString()) +
        "&patient=" + encodeURIComponent("Patient/" + client.patient.id) + "&_count=10";
      say("");
      client.request("Appointment/$find?" + query).then(function (bundle) {
        var proposals = (bundle.entry || []).map(function (entry) { return entry.resource; });
        list.replaceChildren.apply(list, proposals.map(offer));
        if (!proposals.length) say("No free time in that week.");
      }, function (error) { say("Could not look for free times: " + error.message); });
    });
  }

  function fail(title, message) {
    text("patient-name", title);
    document.getElementById("details").hidden = true;
    var box = document.getElementById("error");
    box.hidden = false;
    box.textContent = message;
    document.body.dataset.ready = "error";
  }

  // The server sends error=access_denied when the user chose Deny (or allowed nothing).
  if (new URLSearchParams(window.location.search).get("error") === "access_denied") {
    fail("Access not given",
      "You did not allow this app to see the record, so it shows nothing. Launch it again to choose differently.");
    return;
  }

  FHIR.oauth2.ready().then(show).catch(function (error) {
    fail("Could not open the record", "Error: " + error.message);
  });
})();
