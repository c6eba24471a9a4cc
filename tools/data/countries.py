# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"""Countries and their subdivisions from pycountry, written with proteus.

The country module's trytond_import_countries writes every country and
subdivision of the world with their translations (a minute or more) and has
no filter; the demo needs only a few.  Written here: the names in the
database language, without translations nor subdivision parents (Colombia
has none).
"""
import pycountry
from proteus import Model


def get_countries(codes):
    "Return the countries of the ISO codes by code, creating missing ones"
    Country = Model.get('country.country')
    countries = {c.code: c for c in Country.find([('code', 'in', codes)])}
    for code in codes:
        if code not in countries:
            countries[code] = create_country(code)
    return countries


def create_country(code):
    Country = Model.get('country.country')
    Subdivision = Model.get('country.subdivision')
    iso = pycountry.countries.get(alpha_2=code)
    country = Country(name=iso.name, code=code, code3=iso.alpha_3,
        code_numeric=iso.numeric)
    country.save()
    types = dict(Subdivision._fields['type']['selection'])
    subdivisions = []
    for iso in sorted(pycountry.subdivisions.get(country_code=code),
            key=lambda s: s.code):
        type_ = iso.type.lower()
        subdivisions.append(Subdivision(country=country, code=iso.code,
                name=iso.name, type=type_ if type_ in types else None))
    Subdivision.save(subdivisions)
    return country
