// Shows the patient in context and their observations, read with the token the server granted.
(function () {
  function text(id, value) {
    document.getElementById(id).textContent = value || "";
  }

  function humanName(patient) {
    var name = (patient.name || [])[0] || {};
    return name.text || [(name.given || []).join(" "), name.family].join(" ").trim() || patient.id;
  }

  function observationLine(observation) {
    var code = observation.code || {};
    var label = code.text || ((code.coding || [])[0] || {}).display || ((code.coding || [])[0] || {}).code;
    var quantity = observation.valueQuantity;
    var value = quantity ? quantity.value + " " + (quantity.unit || quantity.code || "") : (observation.valueString || "");
    return (label || "Observation") + (value ? ": " + value : "");
  }

  function show(client) {
    text("patient-id", client.patient.id);
    text("user", client.user.fhirUser || "");
    return Promise.all([
      client.patient.read(),
      client.request("Observation?patient=" + encodeURIComponent(client.patient.id) + "&_count=50", { pageLimit: 1 })
    ]).then(function (results) {
      var patient = results[0];
      var bundle = results[1];
      text("patient-name", humanName(patient));
      text("patient-birth-date", patient.birthDate);
      var list = document.getElementById("observations");
      (bundle.entry || []).forEach(function (entry) {
        var item = document.createElement("li");
        item.textContent = observationLine(entry.resource);
        list.appendChild(item);
      });
      document.body.dataset.ready = "true";
    });
  }

  FHIR.oauth2.ready().then(show).catch(function (error) {
    var box = document.getElementById("error");
    box.hidden = false;
    box.textContent = "Error: " + error.message;
    document.body.dataset.ready = "error";
  });
})();
