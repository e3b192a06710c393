"""The wall around a student's code: everything that confines a kernel, in one folder.

- `kernels.py` (the grader's side): the bubblewrap command line, the cold kernel (a new sandbox per
  notebook), the warm kernels' template and the kernels forked from it, and the pipes to them.
- `cgroups.py` (the grader's side): the cgroup that caps a sandbox's memory, processes and CPU.
- `inside/`: the only code of the grader's that exists inside the sandbox, mounted read-only as a
  folder (with this file and autograder/__init__.py, which importing it needs): the kernel, the
  template, the seccomp filter, the codec of the messages.

This file stays free of imports: the kernel imports it, inside the sandbox, on its way to `inside`.
"""
