"""nbgrader's formgrader as `autograder formgrader` serves it: the same extension, in which nothing
a student or a roster sends can run.

`autograder formgrader` loads this server extension in place of nbgrader's own
(nbgrader.server_extensions.formgrader). It is nbgrader's FormgradeExtension with three changes:

- its pages' templates escape what they print: nbgrader's Jinja environment does not, and its pages
  print a student id taken from the URL (Manage Students' links hold every id of the gradebook);
- the grading page, which shows a student's notebook, is served under a Content-Security-Policy that
  runs only the page's own scripts (the inline ones carry a fresh nonce per response, which the
  course's formgrade templates in templates/nbconvert/formgrade/ print) and scripts from
  formgrader's and MathJax's static folders: no inline script, event handler, `javascript:` URL or
  eval, nothing from another folder of the server (a student's .js file under /files/ included), no
  plugin, form or frame;
- the files beside a submission that formgrader serves (images the notebook links to) come with the
  policy Jupyter gives its own /files/: a sandbox, here without scripts at all.

The notebooks it shows are already made safe when they are written (autograder/sanitise.py); it
makes them safe again as it renders them, for notebooks an older grader wrote.
"""

from __future__ import annotations

import functools
import secrets
from pathlib import Path
from types import SimpleNamespace

from jinja2 import Environment, FileSystemLoader
from jupyter_server.utils import url_path_join
from nbgrader.server_extensions.formgrader import apihandlers, handlers
from nbgrader.server_extensions.formgrader.formgrader import FormgradeExtension
from tornado import web

from autograder.sanitise import SafeNotebook

FORMGRADER_TEMPLATES = Path(__file__).parent / "templates" / "formgrader"
# The grading page's scripts: formgrader's own and MathJax (the server's, jupyter-server-mathjax).
SCRIPT_FOLDERS = ("formgrader/static/", "static/jupyter_server_mathjax/")


def grading_page_policy(host: str, base_url: str, nonce: str) -> str:
    """The grading page's Content-Security-Policy: scripts only with `nonce` or from SCRIPT_FOLDERS
    on `host`."""
    folders = " ".join(host + url_path_join(base_url, folder) for folder in SCRIPT_FOLDERS)
    return "; ".join([
        "default-src 'none'", f"script-src 'nonce-{nonce}' {folders}",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:", "font-src 'self' data:", "connect-src 'self'", "base-uri 'none'",
        "form-action 'none'", "frame-ancestors 'self'",
        "report-uri " + url_path_join(base_url, "api/security/csp-report")])


class GradingPage(handlers.SubmissionHandler):
    """nbgrader's grading page (a student's notebook, rendered), under `grading_page_policy`."""

    @functools.cached_property
    def nonce(self) -> str:
        return secrets.token_urlsafe(16)

    @property
    def content_security_policy(self) -> str:
        return grading_page_policy(self.request.host, self.base_url + "/", self.nonce)

    @property
    def exporter(self):
        """nbgrader's exporter, rendering with the nonce among the page's resources."""
        exporter = super().exporter
        return SimpleNamespace(from_filename=lambda filename, resources: exporter.from_filename(
            filename, resources={**resources, "csp_nonce": self.nonce}))


class SubmissionFiles(handlers.SubmissionFilesHandler):
    """Files beside a submission: served as inert documents (Jupyter's /files/ allows scripts in its
    sandbox)."""

    @property
    def content_security_policy(self) -> str:
        return super().content_security_policy + "; default-src 'none'; sandbox"


class Formgrader(FormgradeExtension):
    """nbgrader's formgrader with escaped page templates, the grading page's policy and sanitised
    rendering."""

    def init_tornado_settings(self, webapp):
        super().init_tornado_settings(webapp)
        webapp.settings["nbgrader_jinja2_env"] = Environment(
            loader=FileSystemLoader([str(FORMGRADER_TEMPLATES), handlers.template_path]),
            autoescape=True)
        webapp.settings["nbgrader_exporter"].register_preprocessor(SafeNotebook, enabled=True)

    def init_handlers(self, webapp):
        replaced = {handlers.SubmissionHandler: GradingPage,
                    handlers.SubmissionFilesHandler: SubmissionFiles}
        rules = [(pattern, replaced.get(handler, handler), *rest)
                 for pattern, handler, *rest in handlers.default_handlers
                 + apihandlers.default_handlers]
        rules += [(r"/formgrader/static/(.*)", web.StaticFileHandler,
                   {"path": handlers.static_path}),
                  (r"/formgrader/.*", handlers.Template404)]
        webapp.add_handlers(
            ".*$", [(url_path_join(webapp.settings["base_url"], pattern.lstrip("/")), *rest)
                    for pattern, *rest in rules])


def _jupyter_server_extension_points():
    return [{"module": __name__}]


def _load_jupyter_server_extension(serverapp):
    """nbgrader's load_jupyter_server_extension, with Formgrader for its FormgradeExtension."""
    formgrader = Formgrader(parent=serverapp)
    formgrader.root_dir = serverapp.root_dir
    formgrader.log = serverapp.log
    formgrader.initialize([])
    formgrader.init_tornado_settings(serverapp.web_app)
    formgrader.init_handlers(serverapp.web_app)
