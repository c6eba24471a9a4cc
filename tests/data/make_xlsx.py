#!/usr/bin/env python3
# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"""Write prospects.xlsx, the workbook of the import scenario.

    .venv/bin/python tests/data/make_xlsx.py

A list as a spreadsheet gives it: headers with odd spacing and case, phone
numbers typed as numbers, a date, an empty name, a second sheet."""
import datetime as dt
import os

import openpyxl

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Prospectos"
    sheet.append([
            "  NOMBRE ", "Teléfono", "Correo  Electrónico",
            "Unidad de Negocio", "Fecha de contacto"])
    sheet.append([
            "Clínica Visual del Norte", 6015559876, "citas@visualnorte.co",
            "Equipment", dt.date(2024, 3, 15)])
    sheet.append([
            "Guchito", 3005550111, None, "optics", None])
    sheet.append([
            None, 3005550122, "sin-nombre@example.com", None, None])
    sheet.append([
            "Óptica Horizonte", "+57 300 555 0133", None, "Brigade", None])
    # Another sheet is not read: only the one shown when the file opens
    other = workbook.create_sheet("Notas")
    other.append(["Name"])
    other.append(["Not a prospect"])
    # Fixed properties: the same file at each run
    workbook.properties.created = workbook.properties.modified = (
        dt.datetime(2024, 1, 1))
    workbook.save(os.path.join(HERE, 'prospects.xlsx'))


if __name__ == '__main__':
    main()
