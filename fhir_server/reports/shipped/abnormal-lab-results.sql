-- Laboratory results in the period flagged abnormal by their interpretation (v3 ObservationInterpretation):
-- high (H, HH, HU, >), low (L, LL, LU, <) or abnormal otherwise (A, AA).
WITH flagged AS (
  SELECT
    coalesce(code_display, code_text, '-') AS test,
    CASE WHEN interpretation IN ('H', 'HH', 'HU', '>') THEN 'high'
         WHEN interpretation IN ('L', 'LL', 'LU', '<') THEN 'low'
         ELSE 'abnormal' END AS flag,
    patient
  FROM results
  WHERE laboratory
    AND status IN ('final', 'amended', 'corrected', 'preliminary')
    AND interpretation IN ('H', 'HH', 'HU', '>', 'L', 'LL', 'LU', '<', 'A', 'AA')
    AND effective IS NOT NULL
    AND CAST(substr(effective, 1, 10) AS DATE) BETWEEN :start AND :end
)
SELECT
  test,
  count(*) FILTER (WHERE flag = 'high') AS high,
  count(*) FILTER (WHERE flag = 'low') AS low,
  count(*) FILTER (WHERE flag = 'abnormal') AS abnormal,
  count(DISTINCT patient) AS patients
FROM flagged
GROUP BY test
ORDER BY high + low + abnormal DESC, test
