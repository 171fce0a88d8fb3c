// EHR launch: the EHR opens this page with ?iss=...&launch=...; standalone launch: ?iss=... only.
(function () {
  var params = new URLSearchParams(window.location.search);
  var scopes = ["openid", "fhirUser", "patient/Patient.rs", "patient/Observation.rs",
    "patient/Appointment.rs", "patient/Appointment.c", "patient/Practitioner.rs"];
  scopes.unshift(params.has("launch") ? "launch" : "launch/patient");
  FHIR.oauth2.authorize({
    clientId: "demo-app",
    scope: scopes.join(" "),
    redirectUri: "index.html",
    pkceMode: "required"
  }).catch(function (error) {
    document.getElementById("status").textContent = "Launch failed: " + error.message;
  });
})();
