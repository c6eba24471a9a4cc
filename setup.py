#!/usr/bin/env python3
# This file is part of sale_opportunity_management.  The COPYRIGHT file at
# the top level of this repository contains the full copyright notices and
# license terms.
import io
import os
import re
from configparser import ConfigParser

from setuptools import find_packages, setup

MODULE = 'sale_opportunity_management'
PREFIX = 'trytond'


def read(fname):
    with io.open(os.path.join(os.path.dirname(__file__), fname),
            'r', encoding='utf-8') as f:
        return f.read()


config = ConfigParser()
config.read_file(open(os.path.join(os.path.dirname(__file__), 'tryton.cfg')))
info = dict(config.items('tryton'))
for key in ('depends', 'extras_depend', 'xml'):
    if key in info:
        info[key] = info[key].strip().splitlines()
version = info.get('version', '0.0.1')
major_version, minor_version, _ = version.split('.', 2)
major_version = int(major_version)
minor_version = int(minor_version)
next_minor = '%s.%s' % (major_version, minor_version + 1)
series = '%s.%s' % (major_version, minor_version)

requires = [
    'python-sql >= 1.4',
    'phonenumbers >= 8.12',
    'email-validator >= 2',
    'openpyxl >= 3.1',
    ]
for dep in info.get('depends', []):
    if not re.match(r'(ir|res)(\W|$)', dep):
        requires.append(
            '%s_%s >= %s, < %s' % (PREFIX, dep, series, next_minor))
requires.append('trytond >= %s, < %s' % (series, next_minor))

tests_require = [
    'proteus >= %s, < %s' % (series, next_minor),
    # a real SMTP server for the e-mails sent after a call
    'aiosmtpd >= 1.4',
    ]
# The optional bridge to the sale opportunities is tested too
tests_require += [
    '%s_%s >= %s, < %s' % (PREFIX, dep, series, next_minor)
    for dep in info.get('extras_depend', [])]

setup(
    name='%s_%s' % (PREFIX, MODULE),
    version=version,
    description="Pre-sales call-center management for Tryton",
    long_description=read('README.rst'),
    long_description_content_type='text/x-rst',
    license='GPL-3.0-or-later',
    python_requires='>=3.10',
    keywords='tryton sale prospect call center crm',
    package_dir={'trytond.modules.%s' % MODULE: '.'},
    packages=(
        ['trytond.modules.%s' % MODULE]
        + ['trytond.modules.%s.%s' % (MODULE, p)
            for p in find_packages(exclude=['.venv*', 'var*', 'tools*'])]),
    package_data={
        'trytond.modules.%s' % MODULE: (info.get('xml', [])
            + ['tryton.cfg', 'view/*.xml', 'locale/*.po', 'icons/*.svg',
                'tests/*.rst', 'tests/data/*']),
        },
    install_requires=requires,
    extras_require={
        'test': tests_require,
        'postgresql': ['psycopg[binary,pool] >= 3'],
        },
    zip_safe=False,
    entry_points="""
    [trytond.modules]
    %s = trytond.modules.%s
    """ % (MODULE, MODULE),
    classifiers=[
        'Framework :: Tryton',
        'License :: OSI Approved :: '
        'GNU General Public License v3 or later (GPLv3+)',
        'Programming Language :: Python :: 3.11',
        'Topic :: Office/Business',
        ],
    )
