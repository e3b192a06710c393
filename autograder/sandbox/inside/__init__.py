"""The code that runs inside the sandbox, and nothing else: this folder is mounted into every
sandbox as a whole (kernels._readonly_paths), so a module put here is visible to the student's
code, and one kept elsewhere is not. The grader's tests and fixtures must never live here.
"""
