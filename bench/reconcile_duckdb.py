"""The reference for reconciliation: DuckDB joins the same charges and
payments with the exported register's entitlement periods. Prints seconds."""
import sys, time
import duckdb

export, charges, payments = sys.argv[1:4]
con = duckdb.connect()
start = time.perf_counter()
con.execute(f"""
CREATE TABLE ent AS SELECT nhs_number, CAST(entitlement_start AS DATE) AS s,
  COALESCE(TRY_CAST(entitlement_end AS DATE), DATE '9999-12-31') AS e
  FROM read_csv_auto('{export}', all_varchar=true) WHERE entitlement_start <> '';
CREATE TABLE c AS SELECT * FROM read_csv_auto('{charges}', all_varchar=true);
CREATE TABLE p AS SELECT * FROM read_csv_auto('{payments}', all_varchar=true);
""")
con.execute("""
SELECT 'charged_while_entitled', c.nhs_number, greatest(CAST(c.charged_from AS DATE), ent.s), least(CAST(c.charged_to AS DATE), ent.e - 1),
  CAST(c.amount AS DECIMAL(18,2)) * (date_diff('day', greatest(CAST(c.charged_from AS DATE), ent.s), least(CAST(c.charged_to AS DATE), ent.e - 1)) + 1)
  / (date_diff('day', CAST(c.charged_from AS DATE), CAST(c.charged_to AS DATE)) + 1)
FROM c JOIN ent ON c.nhs_number = ent.nhs_number
WHERE CAST(c.charged_from AS DATE) < ent.e AND CAST(c.charged_to AS DATE) >= ent.s
UNION ALL
SELECT 's117_funded_not_entitled', p.nhs_number, CAST(p.period_from AS DATE), CAST(p.period_to AS DATE), CAST(p.amount AS DECIMAL(18,2))
FROM p WHERE p.funding_stream = 's117' AND NOT EXISTS (
  SELECT 1 FROM ent WHERE ent.nhs_number = p.nhs_number AND CAST(p.period_from AS DATE) >= ent.s AND CAST(p.period_to AS DATE) < ent.e)
""").fetchall()
print(f"{time.perf_counter() - start:.2f}")
