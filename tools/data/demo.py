#!/usr/bin/env python3
# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
"""Fill a demo database of sale_opportunity_management with proteus.

    python tools/data/demo.py -c var/trytond.conf -d demo [--seed N]

The database must have the module activated (tools/demo does it).  The
script creates the company, the users, Colombia and its subdivisions when
missing (countries.py, beside it), about fifty Colombian prospects with
their contact methods, assigns them to two operators, and logs a few
hundred calls as those operators, through the module's own models and
wizards.  It does nothing on a database that already has prospects.  The
data are the same at each run with the same seed (dates are relative to
today).
"""
import argparse
from decimal import Decimal
import datetime as dt
import random
import sys
import unicodedata
from zoneinfo import ZoneInfo

from proteus import Model, Wizard
from proteus import config as pconfig

from countries import get_countries

MODULE = 'sale_opportunity_management'
COMPANY_NAME = 'Ópticas y Brigadas del Norte S.A.S'
# The call center's time: its calling hours and the demo's schedules
TIMEZONE = 'America/Bogota'
TODAY = dt.date.today()
DAYS = 60

USERS = [
    # login, password, name, groups
    ('operator1', 'operator1', 'Valentina Ríos',
        ['group_prospect_operator']),
    ('operator2', 'operator2', 'Andrés Castaño',
        ['group_prospect_operator']),
    ('registrar', 'registrar', 'Camila Herrera',
        ['group_prospect_registrar']),
    ]

# city, subdivision code, landline area code
CITIES = [
    ('Bogotá', 'CO-DC', '601'),
    ('Bogotá', 'CO-DC', '601'),
    ('Bogotá', 'CO-DC', '601'),
    ('Medellín', 'CO-ANT', '604'),
    ('Medellín', 'CO-ANT', '604'),
    ('Cali', 'CO-VAC', '602'),
    ('Cali', 'CO-VAC', '602'),
    ('Barranquilla', 'CO-ATL', '605'),
    ('Barranquilla', 'CO-ATL', '605'),
    ('Cartagena', 'CO-BOL', '605'),
    ('Bucaramanga', 'CO-SAN', '607'),
    ('Pereira', 'CO-RIS', '606'),
    ('Manizales', 'CO-CAL', '606'),
    ('Cúcuta', 'CO-NSA', '607'),
    ('Ibagué', 'CO-TOL', '608'),
    ('Santa Marta', 'CO-MAG', '605'),
    ('Villavicencio', 'CO-MET', '608'),
    ('Pasto', 'CO-NAR', '602'),
    ('Neiva', 'CO-HUI', '608'),
    ('Armenia', 'CO-QUI', '606'),
    ('Montería', 'CO-COR', '604'),
    ('Tunja', 'CO-BOY', '608'),
    ('Popayán', 'CO-CAU', '602'),
    ]
# words of a prospect's name that tell its city
CITY_HINTS = {
    'Bogotá': ('Bogotá', 'CO-DC', '601'),
    'Chapinero': ('Bogotá', 'CO-DC', '601'),
    'Santa Fe': ('Bogotá', 'CO-DC', '601'),
    'Sabana': ('Bogotá', 'CO-DC', '601'),
    'Antioquia': ('Medellín', 'CO-ANT', '604'),
    'Paisa': ('Medellín', 'CO-ANT', '604'),
    'Valle': ('Cali', 'CO-VAC', '602'),
    'Cauca': ('Cali', 'CO-VAC', '602'),
    'Pacífico': ('Cali', 'CO-VAC', '602'),
    'Caribe': ('Barranquilla', 'CO-ATL', '605'),
    'El Prado': ('Barranquilla', 'CO-ATL', '605'),
    'Heroica': ('Cartagena', 'CO-BOL', '605'),
    'Santander': ('Bucaramanga', 'CO-SAN', '607'),
    'Pereira': ('Pereira', 'CO-RIS', '606'),
    'Eje Cafetero': ('Pereira', 'CO-RIS', '606'),
    'Comfanorte': ('Cúcuta', 'CO-NSA', '607'),
    'Llanos': ('Villavicencio', 'CO-MET', '608'),
    'Villavicencio': ('Villavicencio', 'CO-MET', '608'),
    'Pasto': ('Pasto', 'CO-NAR', '602'),
    'Neiva': ('Neiva', 'CO-HUI', '608'),
    'Huila': ('Neiva', 'CO-HUI', '608'),
    'Sinú': ('Montería', 'CO-COR', '604'),
    'Tunja': ('Tunja', 'CO-BOY', '608'),
    'Cerrejón': ('Riohacha', 'CO-LAG', '605'),
    }

# name, business unit code
PROSPECTS = [
    # optical shops and eye-care clinics: frames, lenses (optics)
    ('Óptica Visión Caribe S.A.S', 'optics'),
    ('Ópticas Lux Colombia S.A.S', 'optics'),
    ('Centro Óptico Santa Fe Ltda', 'optics'),
    ('Óptica Mirada Paisa S.A.S', 'optics'),
    ('Visual Center del Valle S.A.S', 'optics'),
    ('Óptica San Gabriel', 'optics'),
    ('Ópticas Ver Bien IPS S.A.S', 'optics'),
    ('Optometría Integral de Santander S.A.S', 'optics'),
    ('Óptica Los Andes Ltda', 'optics'),
    ('Lentes y Monturas del Eje Cafetero S.A.S', 'optics'),
    ('Óptica Nueva Visión de los Llanos', 'optics'),
    ('Cristales Ópticos Heroica S.A.S', 'optics'),
    ('Óptica Familiar El Prado', 'optics'),
    ('Centro Visual Chapinero S.A.S', 'optics'),
    ('Óptica Bella Vista del Sinú', 'optics'),
    ('Ópticas Económicas Popular S.A.S', 'optics'),
    ('Óptica Claridad Pacífico Ltda', 'optics'),
    # employers and schools: visual-health brigades (brigade)
    ('Textiles Andinos S.A.', 'brigade'),
    ('Constructora Los Cerros S.A.S', 'brigade'),
    ('Colegio San Bartolomé de la Sabana', 'brigade'),
    ('Transportes Rápido Santander S.A.', 'brigade'),
    ('Confecciones La Montaña S.A.S', 'brigade'),
    ('Floricultura La Sabana S.A.', 'brigade'),
    ('Cooperativa de Caficultores del Eje Cafetero', 'brigade'),
    ('Palmeras de los Llanos S.A.S', 'brigade'),
    ('Call Center Conecta BPO S.A.S', 'brigade'),
    ('Alimentos del Valle Alval S.A.', 'brigade'),
    ('Institución Educativa Simón Bolívar', 'brigade'),
    ('Logística Portuaria del Caribe S.A.S', 'brigade'),
    ('Fondo de Empleados Docentes de Antioquia', 'brigade'),
    ('Caja de Compensación Comfanorte', 'brigade'),
    ('Ingenio Azucarero del Cauca S.A.', 'brigade'),
    ('Minera El Cerrejón Norte S.A.S', 'brigade'),
    ('Universidad Tecnológica del Sinú', 'brigade'),
    # clinics and optical chains: ophthalmic equipment (equipment)
    ('Clínica Oftalmológica del Valle S.A.', 'equipment'),
    ('IPS Salud Visual Integral S.A.S', 'equipment'),
    ('Hospital San Rafael de Tunja E.S.E.', 'equipment'),
    ('Centro Médico Oftalmológico de Antioquia S.A.S', 'equipment'),
    ('Laboratorio Óptico Precisión S.A.S', 'equipment'),
    ('Clínica de Ojos del Caribe Ltda', 'equipment'),
    ('Fundación Oftalmológica de Santander', 'equipment'),
    ('Instituto de la Visión de Pasto S.A.S', 'equipment'),
    ('Clínica Nuestra Señora de los Remedios', 'equipment'),
    ('Unidad Oftalmológica Láser de Bogotá S.A.S', 'equipment'),
    ('Centro de Retina y Glaucoma de Pereira S.A.S', 'equipment'),
    ('E.S.E. Hospital Departamental de Villavicencio', 'equipment'),
    ('Clínica Visión Total Neiva S.A.S', 'equipment'),
    ('Oftalmosalud Huila S.A.S', 'equipment'),
    ('Clínica Colombiana de Optometría S.A.S', 'equipment'),
    ('Ópticas Unidas del Pacífico S.A.S', 'equipment'),
    ]

FIRST_NAMES = [
    'María Fernanda', 'Juan Carlos', 'Luz Marina', 'Carlos Andrés',
    'Diana Marcela', 'Jorge Eliécer', 'Paola Andrea', 'Luis Fernando',
    'Sandra Milena', 'Óscar Iván', 'Ana María', 'Julián David',
    'Claudia Patricia', 'Hernán Darío', 'Natalia', 'Santiago', 'Yolanda',
    'Mauricio', 'Lina María', 'Felipe',
    ]
LAST_NAMES = [
    'Gómez', 'Rodríguez', 'Martínez', 'López', 'García', 'Hernández',
    'Ramírez', 'Torres', 'Vargas', 'Moreno', 'Jiménez', 'Restrepo',
    'Ospina', 'Cárdenas', 'Quintero', 'Salazar', 'Mejía', 'Arango',
    'Zapata', 'Pardo',
    ]
JOBS = {
    'optics': ['Propietaria', 'Gerente', 'Optómetra', 'Jefe de compras',
        'Administrador'],
    'brigade': ['Coordinadora de talento humano',
        'Jefe de seguridad y salud en el trabajo', 'Directora administrativa',
        'Rector', 'Coordinador de bienestar'],
    'equipment': ['Director médico', 'Jefe de compras',
        'Coordinadora de biomédica', 'Gerente', 'Oftalmólogo'],
    }
MAIL_USERS = ['info', 'contacto', 'compras', 'gerencia', 'administracion',
    'talentohumano', 'ventas']
STREETS = ['Calle', 'Carrera', 'Avenida', 'Diagonal', 'Transversal']

DESCRIPTIONS = {
    '0': [
        "No contestan, timbra hasta que se cae la llamada.",
        "Buzón de voz; se deja mensaje con nuestros datos.",
        "Número ocupado en tres intentos.",
        "Contesta la recepción: la persona encargada no está, "
        "piden llamar más tarde.",
        "Fuera de servicio por ahora; se intenta con el otro número.",
        ],
    '1': [
        "Ya tienen proveedor con contrato vigente, no les interesa.",
        "La gerente indica que no hay presupuesto este año.",
        "No están interesados; piden no volver a llamar por ahora.",
        "Cerraron la sede que nos interesaba, no aplica.",
        ],
    '2': [
        "Interesados: piden el portafolio y la lista de precios por correo.",
        "Quieren conocer condiciones de pago antes de decidir; "
        "se envía información.",
        "Piden una cotización para {n} personas; se envía hoy.",
        "La persona de compras revisará la propuesta con la gerencia.",
        "Preguntan por referencias de otros clientes de la ciudad.",
        ],
    '3': [
        "Aceptan la propuesta: agendar visita para firmar el acuerdo.",
        "Muy interesados, solicitan brigada para {n} empleados el próximo "
        "mes.",
        "Confirman pedido inicial; pasar a comercial para la orden de venta.",
        "Quieren una demostración del equipo la próxima semana.",
        ],
    }
NEXT_NOTES = [
    "Volver a llamar en la mañana",
    "Confirmar si recibieron el portafolio",
    "Llamar a la persona de compras",
    "Enviar cotización actualizada y confirmar",
    "Preguntar por la decisión de la gerencia",
    "Intentar en el número fijo",
    "Agendar visita comercial",
    ]


def log(message):
    print(message, flush=True)


def first_line(exception):
    text = str(exception).strip() or repr(exception)
    return text.splitlines()[0][:200]


def set_user(config, user_id):
    "Act as the user (0: root) in the following calls"
    User = Model.get('res.user')
    config.user = user_id
    config._context = User.get_preferences(True, {})


def xml_id(fs_id, module=MODULE):
    "Return the record of the XML id (ir.model.data has no RPC to search)"
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    config = pconfig.get_config()
    with Transaction().start(config.database_name, 0, readonly=True):
        ModelData = Pool().get('ir.model.data')
        data, = ModelData.search([
                ('module', '=', module),
                ('fs_id', '=', fs_id),
                ])
        model, db_id = data.model, data.db_id
    return Model.get(model)(db_id)


def slug(text):
    text = unicodedata.normalize('NFKD', text)
    text = ''.join(c for c in text if not unicodedata.combining(c))
    words = [w for w in ''.join(
                c.lower() if c.isalnum() else ' ' for c in text).split()
        if w not in {'s', 'a', 'sas', 'ltda', 'de', 'del', 'la', 'los',
            'las', 'el', 'y', 'e', 'ese', 'ips'}]
    return ''.join(words[:3])


def close_config_wizards():
    "Do not greet the demo users with the module configuration wizard"
    Item = Model.get('ir.module.config_wizard.item')
    items = Item.find([('state', '!=', 'done')])
    for item in items:
        item.state = 'done'
    Item.save(items)


def get_currency():
    Currency = Model.get('currency.currency')
    Rate = Model.get('currency.currency.rate')
    currencies = Currency.find([('code', '=', 'COP')])
    if currencies:
        return currencies[0]
    currency = Currency(name='Peso colombiano', code='COP', symbol='$',
        numeric_code='170', rounding=Decimal(1), digits=0)
    currency.save()
    Rate(date=dt.date(2000, 1, 1), rate=Decimal(1), currency=currency).save()
    return currency


def get_company(config):
    Company = Model.get('company.company')
    companies = Company.find([])
    if companies:
        return companies[0]
    Party = Model.get('party.party')
    party = Party(name=COMPANY_NAME)
    party.save()
    company_config = Wizard('company.company.config')
    company_config.execute('company')
    company = company_config.form
    company.party = party
    company.currency = get_currency()
    company.timezone = TIMEZONE
    company_config.execute('add')
    set_user(config, config.user)
    company, = Company.find([])
    return company


def get_colombia():
    return get_countries(['CO'])['CO']


def get_subdivisions(country):
    Subdivision = Model.get('country.subdivision')
    return {s.code: s for s in Subdivision.find(
            [('country', '=', country.id)])}


def create_users(config, company):
    "Create the demo users (as root: their passwords are short)"
    User = Model.get('res.user')
    Lang = Model.get('ir.lang')
    spanish = Lang.find([('code', '=', 'es'), ('translatable', '=', True)])
    admin_id = config.user
    set_user(config, 0)
    users = {}
    for login, password, name, groups in USERS:
        found = User.find([('login', '=', login)])
        user = found[0] if found else User(login=login)
        user.name = name
        if spanish:
            # the call center works in Spanish; admin keeps English
            user.language = spanish[0]
        user.password = password
        join(user, groups, company)
        users[login] = user
    admin, = User.find([('login', '=', 'admin')])
    admin.name = 'Administrador'
    join(admin, ['group_prospect_admin', 'group_prospect_operator',
            'group_prospect_registrar'], company)
    set_user(config, admin_id)
    return users


def join(user, groups, company):
    "Put the user in the groups (XML ids) and the company, and save it"
    for group in groups:
        group = xml_id(group)
        if group not in user.groups:
            user.groups.append(group)
    if company not in user.companies:
        user.companies.append(company)
    user.company = company
    user.save()


def mobile(rng):
    prefix = rng.choice(['300', '301', '302', '304', '305', '310', '311',
            '312', '313', '314', '315', '316', '317', '318', '319', '320',
            '321', '322', '323', '350', '351'])
    number = '%s%07d' % (prefix, rng.randrange(2000000, 9999999))
    # typed the ways people type them
    return rng.choice([
            number,
            '%s %s %s' % (number[:3], number[3:6], number[6:]),
            '+57 %s %s %s' % (number[:3], number[3:6], number[6:]),
            ])


def landline(rng, area):
    number = '%s%07d' % (area, rng.randrange(2000000, 8999999))
    return rng.choice([
            number,
            '(%s) %s %s' % (area, number[3:6], number[6:]),
            '%s %s' % (area, number[3:]),
            ])


def prospect_values(rng, index, name, unit_code):
    for hint, city in CITY_HINTS.items():
        if hint in name:
            break
    else:
        city = rng.choice(CITIES)
    city_name, subdivision, area = city
    domain = slug(name) + rng.choice(['.com.co', '.co', '.com'])
    contacts = []
    person = '%s %s' % (rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES))
    job = rng.choice(JOBS[unit_code])
    kinds = rng.choice([
            ['mobile'], ['phone'], ['mobile', 'mail'], ['phone', 'mail'],
            ['phone', 'mobile'], ['mobile', 'phone', 'mail'],
            ['whatsapp', 'mail'], ['phone', 'whatsapp', 'mail'],
            ])
    for kind in kinds:
        if kind in {'mobile', 'whatsapp'}:
            contacts.append(dict(contact_type=kind, value=mobile(rng),
                    name=person, job=job))
        elif kind == 'phone':
            contacts.append(dict(contact_type=kind,
                    value=landline(rng, area), name=None,
                    job=None))
        else:
            contacts.append(dict(contact_type='mail',
                    value='%s@%s' % (rng.choice(MAIL_USERS), domain),
                    name=None, job=None))
    if index % 17 == 5:
        # a number that does not parse: kept as typed and flagged
        contacts.append(dict(contact_type='phone', value='ext. 104 recepción',
                name=None, job=None))
    if index % 11 == 3:
        contacts.append(dict(contact_type='website',
                value='https://www.%s' % domain, name=None, job=None))
    address = '%s %d # %d-%02d' % (rng.choice(STREETS), rng.randrange(1, 120),
        rng.randrange(1, 100), rng.randrange(1, 99))
    return dict(name=name, city=city_name, subdivision=subdivision,
        address=address, contacts=contacts)


def create_prospects(rng, company, country, subdivisions, units):
    Prospect = Model.get('sale.prospect')
    ContactMethod = Model.get('prospect.contact_method')
    prospects = []
    mails, refused = [], []
    for index, (name, unit_code) in enumerate(PROSPECTS):
        values = prospect_values(rng, index, name, unit_code)
        prospect = Prospect(name=values['name'], city=values['city'],
            country=country, address=values['address'],
            business_unit=units[unit_code])
        prospect.subdivision = subdivisions.get(values['subdivision'])
        if index % 9 == 0:
            prospect.comment = ("Referido por un cliente actual. "
                "Preguntar por sedes en otras ciudades.")
        for contact in values['contacts']:
            if contact['contact_type'] == 'mail':
                mails.append((prospect, contact))
                continue
            prospect.contact_methods.new(**contact)
        prospect.save()
        prospects.append(prospect)
    # The module checks that mail domains accept mail (as party does): that
    # needs DNS, and the demo domains are made up.  Keep what it accepts.
    accepted = []
    for prospect, contact in mails:
        method = ContactMethod(prospect=prospect, **contact)
        try:
            method.save()
            accepted.append(method)
        except Exception as exception:
            refused.append((contact['value'], exception))
            if not accepted and len(refused) >= 3:
                # no domain passes here: do not ask the others
                refused.extend((c['value'], None) for _, c in mails[
                        len(refused):])
                break
    log('  %d prospects, %d contact methods (%d mail addresses refused)' % (
            len(prospects), len(ContactMethod.find([])), len(refused)))
    if refused:
        first = next(e for _, e in refused if e is not None)
        log('  NOTE mail addresses refused by the module: %s' % (
                first_line(first),))
    return prospects


def assign(prospects, operators, units):
    "Assign most prospects, with the wizard when the module has it"
    Prospect = Model.get('sale.prospect')
    to_assign = [p for i, p in enumerate(prospects) if i % 7 != 6]
    try:
        by_unit = {}
        for prospect in to_assign:
            by_unit.setdefault(prospect.business_unit.id, []).append(prospect)
        for unit_id, unit_prospects in sorted(by_unit.items()):
            assign = Wizard('sale.prospect.assign', unit_prospects)
            for operator in operators:
                assign.form.operators.append(
                    Model.get('res.user')(operator.id))
            # (business_unit only narrows the proposed unassigned prospects:
            # the traces take each prospect's unit)
            assign.execute('assign')
        log('  assigned %d prospects with the wizard sale.prospect.assign'
            % len(to_assign))
        return Prospect.find([('id', 'in', [p.id for p in to_assign])])
    except Exception as exception:
        # the module without (a working) wizard: do what it would
        log('  NOTE assignment wizard failed (%s): writing assigned_operator'
            % first_line(exception))
    Trace = Model.get('sale.prospect_trace')
    for i, prospect in enumerate(to_assign):
        prospect.assigned_operator = Model.get('res.user')(
            operators[i % len(operators)].id)
        prospect.save()
        if not Trace.find([('prospect', '=', prospect.id)]):
            Trace(prospect=prospect,
                business_unit=prospect.business_unit).save()
    return Prospect.find([('id', 'in', [p.id for p in to_assign])])


def add_second_traces(rng, prospects, units):
    "Some prospects are followed for a second business unit"
    Trace = Model.get('sale.prospect_trace')
    count = 0
    for prospect in prospects:
        if rng.random() > 0.15:
            continue
        other = rng.choice([u for u in units.values()
                if u != prospect.business_unit])
        contact = (prospect.contact_methods[0]
            if prospect.contact_methods else None)
        Trace(prospect=prospect, business_unit=other,
            prospect_contact=contact).save()
        count += 1
    log('  %d second traces' % count)


def plan_calls(rng, traces):
    "Return {operator id: [(date, trace, interest, description, minutes)]}"
    plans = {}
    for trace in traces:
        operator = trace.prospect.assigned_operator
        if not operator:
            continue
        roll = rng.random()
        if roll < 0.12:
            continue  # never called yet
        count = rng.choice([1, 2, 2, 3, 3, 4, 5, 6, 7, 9, 11])
        start = rng.randrange(0, DAYS - 5)
        days = sorted(rng.sample(range(start, DAYS + 1),
                min(count, DAYS + 1 - start)))
        level = rng.choice([0, 0, 1, 2])
        for day in days:
            if rng.random() < 0.35:
                interest = '0'
            else:
                level = max(1, min(3, level + rng.choice([-1, 0, 1, 1])))
                interest = str(level)
            date = TODAY - dt.timedelta(days=DAYS - day)
            description = rng.choice(DESCRIPTIONS[interest]).format(
                n=rng.choice([25, 40, 60, 120, 300]))
            minutes = (rng.randrange(1, 25) if interest != '0' else None)
            plans.setdefault(operator.id, []).append(
                (date, trace.id, interest, description, minutes))
    return plans


def log_calls(config, plans, admin_id):
    Call = Model.get('sale.call')
    Trace = Model.get('sale.prospect_trace')
    total = 0
    for operator_id, plan in sorted(plans.items()):
        set_user(config, operator_id)
        # in date order, each trace's calls too
        plan.sort(key=lambda c: (c[0], c[1]))
        calls = []
        for date, trace_id, interest, description, minutes in plan:
            call = Call(prospect_trace=Trace(trace_id), date=date,
                interest=interest, description=description)
            if minutes:
                call.duration = dt.timedelta(minutes=minutes,
                    seconds=(trace_id * 7) % 60)
            calls.append(call)
        # one day at a time: the module orders a trace's calls by date, id
        for date in sorted({c.date for c in calls}):
            Call.save([c for c in calls if c.date == date])
        total += len(calls)
    set_user(config, admin_id)
    log('  %d calls logged by %d operators' % (total, len(plans)))


def schedule_and_close(rng, config, admin_id):
    "Next calls in the past (overdue) and future; close hopeless traces"
    Trace = Model.get('sale.prospect_trace')
    # the times of the call center's day, stored in UTC as Tryton does
    zone = ZoneInfo(TIMEZONE)
    now = dt.datetime.now(zone).replace(second=0, microsecond=0)
    traces = Trace.find([('state', '=', 'open')], order=[('id', 'ASC')])
    to_close = []
    schedules = {}
    for trace in traces:
        calls = sorted(trace.calls, key=lambda c: (c.date, c.id))
        last = calls[-1].interest if calls else None
        if last == '1' and len(calls) >= 2 and rng.random() < 0.7:
            to_close.append(trace)
            continue
        if rng.random() < 0.25 and calls:
            continue  # nothing scheduled
        days = rng.choice([-6, -3, -2, -1, -1, 0, 0, 1, 1, 2, 3, 5, 8, 12])
        day = now.date() + dt.timedelta(days=days)
        while day.weekday() >= 5:
            # the calling days, Monday to Friday
            day += dt.timedelta(days=1)
        when = dt.datetime.combine(day, dt.time(
                rng.choice([8, 9, 10, 11, 14, 15, 16]),
                rng.choice([0, 15, 30, 45])), tzinfo=zone)
        when = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
        operator = trace.prospect.assigned_operator
        schedules.setdefault(operator.id if operator else admin_id, []
            ).append((trace.id, when, rng.choice(NEXT_NOTES)))
    # operators schedule their own calls
    for user_id, planned in sorted(schedules.items()):
        set_user(config, user_id)
        records = []
        for trace_id, when, note in planned:
            trace = Trace(trace_id)
            trace.next_call = when
            trace.next_call_note = note
            records.append(trace)
        Trace.save(records)
    set_user(config, admin_id)
    if to_close:
        Trace.click(to_close, 'close')
    log('  %d next calls scheduled, %d traces closed' % (
            sum(len(p) for p in schedules.values()), len(to_close)))


def move_stages(rng, prospects):
    "Sign agreements, make customers and lose some prospects (admin)"
    Prospect = Model.get('sale.prospect')
    prospects = Prospect.find([('id', 'in', [p.id for p in prospects])],
        order=[('id', 'ASC')])
    hot = [p for p in prospects if p.current_interest == '3'
        and p.stage == 'qualified']
    cold = [p for p in prospects if p.current_interest == '1'
        and p.stage in {'lead', 'qualified'}]
    agreements = hot[:max(1, len(hot) // 2)]
    customers = agreements[:max(1, len(agreements) // 3)]
    lost = cold[:max(1, len(cold) // 3)]
    done = []
    try:
        if agreements:
            Prospect.click(agreements, 'sign_agreement')
            done.append('%d agreements' % len(agreements))
        if customers:
            Prospect.click(customers, 'make_customer')
            done.append('%d customers' % len(customers))
    except Exception as exception:
        log('  NOTE stage buttons: %s' % first_line(exception))
    try:
        reasons = [(xml_id('lost_reason_%s' % code), comment)
            for code, comment in [
                ('competitor', "Contrato vigente con la competencia"),
                ('no_budget', "Sin presupuesto este año"),
                ('not_decision_maker', "La decisión es de la gerencia"),
                ('unreachable', "No contestan en ningún número"),
                ]]
        for index, prospect in enumerate(lost):
            reason, comment = reasons[index % len(reasons)]
            lose = prospect.click('lose')
            lose.form.reason = reason
            lose.form.comment = comment
            lose.execute('lose')
        if lost:
            done.append('%d lost' % len(lost))
    except Exception as exception:
        log('  NOTE lose: %s' % first_line(exception))
    log('  stages: %s' % (', '.join(done) or 'unchanged'))


def create_targets(operators, units):
    "A target for each operator: all business units, then optics"
    Target = Model.get('sale.call.target')
    targets = [
        Target(operator=operators[0], calls_per_day=25,
            answered_per_day=10, agreements_per_month=4),
        Target(operator=operators[1], calls_per_day=20,
            answered_per_day=8, agreements_per_month=3),
        Target(operator=operators[1], business_unit=units['optics'],
            calls_per_day=10, answered_per_day=4, agreements_per_month=2),
        ]
    Target.save(targets)
    log('  %d operator targets' % len(targets))


def create_profiling(rng, prospects):
    "A small questionnaire and a segment"
    Question = Model.get('sale.prospect.question')
    Segment = Model.get('sale.prospect.segment')
    Category = Model.get('party.category')
    Prospect = Model.get('sale.prospect')
    size = Question(name="Tamaño de la empresa", sequence=10)
    for i, name in enumerate(["1 a 10 empleados", "11 a 50 empleados",
                "51 a 200 empleados", "Más de 200 empleados"]):
        size.answers.new(name=name, sequence=i)
    size.save()
    optometry = Question(name="¿Tiene optometría propia?", sequence=20)
    for i, name in enumerate(["Sí", "No"]):
        optometry.answers.new(name=name, sequence=i)
    optometry.save()
    category = Category(name="Brigada potencial")
    category.save()
    segment = Segment(name="Empresas medianas y grandes sin optometría",
        category=category,
        business_unit=xml_id('business_unit_brigade'))
    Answer = Model.get('sale.prospect.question.answer')
    segment.answers.extend([Answer(size.answers[2].id),
            Answer(size.answers[3].id), Answer(optometry.answers[1].id)])
    segment.save()
    answered = 0
    for prospect in Prospect.find([('id', 'in', [p.id for p in prospects])],
            order=[('id', 'ASC')]):
        if rng.random() < 0.4:
            continue
        prospect.answers.append(Answer(rng.choice(size.answers).id))
        prospect.answers.append(Answer(rng.choice(optometry.answers).id))
        prospect.save()
        answered += 1
    log('  profiling: 2 questions, 1 segment, %d prospects answered'
        % answered)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('-c', '--config', dest='config_file', required=True)
    parser.add_argument('-d', '--database', required=True)
    parser.add_argument('--seed', type=int, default=2024)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    config = pconfig.set_trytond(database=args.database,
        config_file=args.config_file)
    # the demo names are made to be distinct; possible duplicates would ask
    config.skip_warning = True
    admin_id = config.user

    Prospect = Model.get('sale.prospect')
    if Prospect.find([], limit=1):
        log('The database %s already has prospects: nothing to do'
            % args.database)
        return 0

    log('Company and users')
    close_config_wizards()
    company = get_company(config)
    users = create_users(config, company)
    operators = [users['operator1'], users['operator2']]

    log('Configuration')
    country = get_colombia()
    subdivisions = get_subdivisions(country)
    Configuration = Model.get('sale.prospect.configuration')
    configuration = Configuration(1)
    configuration.default_country = country
    configuration.missed_call_retry = dt.timedelta(hours=4)
    configuration.max_missed_calls = 3
    configuration.save()
    units = {code: xml_id('business_unit_%s' % code)
        for code in ['optics', 'brigade', 'equipment']}

    log('Prospects')
    prospects = create_prospects(rng, company, country, subdivisions, units)
    try:
        create_profiling(rng, prospects)
    except Exception as exception:
        log('  NOTE profiling: %s' % first_line(exception))

    log('Assignment and traces')
    assigned = assign(prospects, operators, units)
    add_second_traces(rng, assigned, units)

    log('Calls')
    Trace = Model.get('sale.prospect_trace')
    traces = Trace.find([], order=[('id', 'ASC')])
    log_calls(config, plan_calls(rng, traces), admin_id)
    schedule_and_close(rng, config, admin_id)
    move_stages(rng, assigned)
    try:
        create_targets(operators, units)
    except Exception as exception:
        log('  NOTE targets: %s' % first_line(exception))

    Call = Model.get('sale.call')
    log('Done: %d prospects, %d traces, %d calls' % (
            len(Prospect.find([])), len(Trace.find([])),
            len(Call.find([]))))
    return 0


if __name__ == '__main__':
    sys.exit(main())
