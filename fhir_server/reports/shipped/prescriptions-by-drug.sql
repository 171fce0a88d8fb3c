-- Prescriptions (MedicationRequest orders) written in the period, by drug.
SELECT
  coalesce(drug_display, drug_text, drug_reference, '-') AS drug,
  count(*) AS prescriptions,
  count(DISTINCT patient) AS patients,
  count(*) FILTER (WHERE status = 'active') AS active
FROM prescriptions
WHERE authored IS NOT NULL
  AND intent IN ('order', 'original-order', 'instance-order')
  AND status NOT IN ('entered-in-error', 'draft')
  AND CAST(substr(authored, 1, 10) AS DATE) BETWEEN :start AND :end
GROUP BY drug
ORDER BY prescriptions DESC, drug
