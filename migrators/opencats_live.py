"""Reading a live OpenCATS database (MySQL or MariaDB) through PyMySQL.

The location is a URL: ``mysql://user:password@host:3306/opencats?attachments=/var/www/opencats/attachments``.
``attachments`` is OpenCATS' attachment folder (its files are not in the database); without it,
attachments are reported as missing files. ``charset`` (default ``latin1``) is the connection
character set: OpenCATS' PHP code talked to MySQL without declaring one, so MySQL filed whatever
bytes the browser sent as latin1; reading back as latin1 returns exactly those bytes, which are
then decoded value by value (UTF-8 or GBK) like the values of a backup file. A database written
through a UTF-8 connection is read with ``?charset=utf8mb4``.

Nothing is converted by the driver (every value arrives as bytes, dates as MySQL writes them), so
a live database and a backup of it give the same tables.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from talentreel.server.errors import ValidationError

from .opencats_tables import Table

SCHEMES = ("mysql", "mariadb", "mysql+pymysql")
TABLES = ("access_level", "user", "candidate", "candidate_duplicates", "company", "client", "joborder", "candidate_joborder",
          "candidate_joborder_status", "activity", "activity_type", "attachment")
"""The tables the migrator reads (client is the company table of OpenCATS before 0.9)."""


def is_url(location: str) -> bool:
    return urlparse(str(location)).scheme in SCHEMES


def parse(location: str) -> dict:
    url = urlparse(location)
    database = url.path.lstrip("/")
    if not database:
        raise ValidationError(f"{location}: no database name in the URL (mysql://user@host:3306/DATABASE)", field="location")
    query = parse_qs(url.query)
    attachments = query.get("attachments", [None])[0]
    return {"host": url.hostname or "127.0.0.1", "port": url.port or 3306, "user": unquote(url.username or "root"),
            "password": unquote(url.password or ""), "database": database, "charset": query.get("charset", ["latin1"])[0],
            "attachments": Path(attachments) if attachments else None}


def connect(params: dict):
    import pymysql
    from pymysql.converters import encoders

    try:
        return pymysql.connect(host=params["host"], port=params["port"], user=params["user"], password=params["password"],
                               database=params["database"], charset=params["charset"], use_unicode=False, conv=dict(encoders),  # no decoders: every value as bytes
                              
                               connect_timeout=10)
    except pymysql.err.MySQLError as exc:
        raise ValidationError(f"cannot read the OpenCATS database {params['database']} on {params['host']}:{params['port']}: {exc}",
                              field="location") from exc


def read_tables(params: dict) -> dict[str, Table]:
    """The migrator's tables, rows in primary-key order (so two reads give the same records)."""
    connection = connect(params)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW TABLES")
            present = {row[0].decode() for row in cursor.fetchall()}
            tables = {}
            for name in TABLES:
                if name not in present:
                    continue
                cursor.execute(f"SELECT * FROM `{name}` ORDER BY 1")
                columns = [d[0] if isinstance(d[0], str) else d[0].decode() for d in cursor.description]
                tables[name] = Table(name, columns, [dict(zip(columns, row)) for row in cursor.fetchall()])
            return tables
    finally:
        connection.close()
