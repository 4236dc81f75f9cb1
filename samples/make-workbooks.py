# Writes samples/filtered.xlsx and samples/shown-amounts.xlsx as openpyxl writes them (run
# from samples/ with `python3 make-workbooks.py`; needs `pip install openpyxl`).
import openpyxl
from openpyxl.styles import numbers

wb = openpyxl.Workbook()
ws = wb.active
ws.title = "June approvals"
ws.append(["Conversion ID", "Payout", "Status"])
rows = [(5001, 12.5, "Approved"), (5002, 0, "Rejected"), (5003, 8.25, "Approved"), (5004, 0, "Rejected"), (5005, 30, "Approved")]
for r in rows:
    ws.append(list(r))
ws.auto_filter.ref = "A1:C6"
ws.auto_filter.add_filter_column(2, ["Approved"])
for r in (3, 5):  # the rejected rows, filtered out of view
    ws.row_dimensions[r].hidden = True
wb.save("filtered.xlsx")

wb = openpyxl.Workbook()
ws = wb.active
ws.title = "Payouts"
ws.append(["Conversion ID", "Payout"])
for cid, payout in [(5101, 1234.565), (5102, 19.999), (5103, 7.5)]:
    ws.append([cid, payout])
for row in ws.iter_rows(min_row=2, min_col=2, max_col=2):
    for c in row:
        c.number_format = '"$"#,##0.00'
wb.save("shown-amounts.xlsx")
