"""The OpenCATS test data, as a backup file and as a live MariaDB database.

`troubled_backup()` is the shared backup (OpenCATS' own backup module, an older schema) plus a
second dump part, `db/catsbackup.sql.1`, with the trouble real OpenCATS data has: duplicate marks
in `candidate_duplicates`, a name in GBK, a name in no known encoding, a zero date, a date written
another way, a pipeline and an activity naming candidates that do not exist, a video attachment
and an attachment whose file is gone.

`load_into_mariadb()` creates the current OpenCATS schema (cats_schema.sql) in a scratch database
and loads the backup's rows into it the way an OpenCATS upgrade carries them (client became
company, address1 became address), through a latin1 connection as OpenCATS' PHP code wrote them.
"""

from __future__ import annotations

import re
import shutil
import uuid
import zipfile
from pathlib import Path

from conftest import SHARED

from talentreel.migrators import opencats_backup

OPENCATS = SHARED / "peers" / "opencats"
BACKUP = OPENCATS / "cats_testdata.bak"
SCHEMA = OPENCATS / "cats_schema.sql"
VIDEO = SHARED / "legacy-export" / "sample" / "videos" / "I5002.flv"
MARIADB = dict(host="127.0.0.1", port=3306, user="root", password="")

GBK_NAME = "张伟".encode("gbk")
GBK_SKILLS = "沟通, Java".encode("gbk")
VIDEO_DIR = "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f"

EXTRA_SQL = b"((ENDOFQUERY))".join([
    b"CREATE TABLE `candidate_duplicates` (\n  `old_candidate_id` int(11) NOT NULL,\n  `new_candidate_id` int(11) NOT NULL,\n"
    b"  `site_id` int(11) NOT NULL,\n  PRIMARY KEY (`old_candidate_id`,`new_candidate_id`)\n) ENGINE=MyISAM",
    # 3 duplicates 2 (our rules agree); 6 is marked a duplicate of 5 though nothing matches: the source decides.
    b"INSERT INTO `candidate_duplicates` VALUES ('2','3','201'),('5','6','201')",
    b"INSERT INTO `candidate` (`candidate_id`,`site_id`,`first_name`,`last_name`,`phone_cell`,`email1`,`key_skills`,`date_created`,`date_modified`) VALUES "
    b"('900','201','" + GBK_NAME[2:] + b"','" + GBK_NAME[:2] + b"','13800138000','zhang_rDOTrwei@example_rDOTrcom','" + GBK_SKILLS
    + b"','0000-00-00 00:00:00','2007-01-18 10:00:00'),"
    b"('901','201','Ana','Lima','0','ana@example_rDOTrorg','0','2007-1-5 9:03','2007-1-5 9:03'),"
    b"('902','201','\x80\xff','X','0','0','0','2007-01-05 09:03:00','2007-01-05 09:03:00')",
    b"INSERT INTO `candidate_joborder` (`candidate_joborder_id`,`candidate_id`,`joborder_id`,`site_id`,`status`,`date_created`) VALUES "
    b"('900','999','1','201','500','2007-01-18 10:00:00'),('901','900','1','201','800','2007-01-18 10:00:00')",
    b"INSERT INTO `activity` (`activity_id`,`data_item_id`,`data_item_type`,`joborder_id`,`site_id`,`entered_by`,`date_created`,`type`,`notes`) VALUES "
    b"('900','998','100','-1','201','1251','2007-01-18 10:00:00','400','About someone gone')",
    b"INSERT INTO `attachment` (`attachment_id`,`data_item_id`,`data_item_type`,`site_id`,`title`,`original_filename`,`stored_filename`,"
    b"`content_type`,`directory_name`,`date_created`) VALUES "
    b"('900','2','100','201','Interview','interview_rDOTrflv','interview_rDOTrflv','video/x-flv','" + VIDEO_DIR.encode() + b"','2007-01-18 10:00:00'),"
    b"('901','4','100','201','Resume','resume_rDOTrpdf','resume_rDOTrpdf','application/pdf','" + VIDEO_DIR.encode() + b"','2007-01-18 10:00:00')",
])


def troubled_backup(folder: Path) -> Path:
    """The shared backup plus the extra dump part and the video attachment (the resume is left out)."""
    target = folder / "cats_troubled.bak"
    shutil.copyfile(BACKUP, target)
    with zipfile.ZipFile(target, "a") as archive:
        archive.writestr("db/catsbackup.sql.1", EXTRA_SQL)
        archive.write(VIDEO, f"attachments/{VIDEO_DIR}/interview.flv")
    return target


def extract_attachments(backup: Path, folder: Path) -> Path:
    with zipfile.ZipFile(backup) as archive:
        for name in archive.namelist():
            if name.startswith("attachments/") and not name.endswith("/"):
                archive.extract(name, folder)
    return folder / "attachments"


RENAMED_TABLES = {"client": "company"}
RENAMED_COLUMNS = {"client_id": "company_id", "address1": "address", "department_id": "company_department_id",
                   "default_client": "default_company"}


def _connect(database=None):
    import pymysql

    return pymysql.connect(database=database, charset="latin1", autocommit=True, **MARIADB)


def load_into_mariadb(backup: Path) -> str:
    """A scratch database with the current OpenCATS schema and the backup's rows; its name."""
    name = f"opencats_test_{uuid.uuid4().hex[:10]}"
    with _connect() as connection, connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8")
    with _connect(name) as connection, connection.cursor() as cursor:
        for statement in re.split(r";\s*\n", SCHEMA.read_text()):
            if statement.strip() and "@OLD" not in statement:
                cursor.execute(statement)
        # After the schema's own SET SQL_MODE and SET NAMES utf8: back to what OpenCATS' PHP used.
        cursor.execute("SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO'")
        cursor.execute("SET NAMES latin1")
        cursor.execute("SHOW TABLES")
        present = {row[0] for row in cursor.fetchall()}
        for table in opencats_backup.read_tables(backup).values():
            target = RENAMED_TABLES.get(table.name, table.name)
            if target not in present or not table.rows:
                continue
            cursor.execute(f"DELETE FROM `{target}`")  # a restore replaces the rows a fresh install ships
            cursor.execute(f"SHOW COLUMNS FROM `{target}`")
            columns = {row[0] for row in cursor.fetchall()}
            for row in table.rows:
                values = {RENAMED_COLUMNS.get(k, k): v for k, v in row.items() if RENAMED_COLUMNS.get(k, k) in columns}
                # Bytes as latin1 text (PyMySQL's latin1 is cp1252, as MySQL's is): the connection hands
                # MySQL the very bytes OpenCATS' PHP sent.
                cursor.execute(f"INSERT INTO `{target}` ({', '.join(f'`{c}`' for c in values)}) VALUES ({', '.join(['%s'] * len(values))})",
                               [v.decode("cp1252") if isinstance(v, bytes) else v for v in values.values()])
    return name


def drop(name: str) -> None:
    with _connect() as connection, connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


def count(name: str, sql: str) -> int:
    with _connect(name) as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]
