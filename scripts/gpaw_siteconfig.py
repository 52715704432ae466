# GPAW build configuration used to regenerate the shipped GOS table (scripts/regenerate_gos.py).
# Only GPAW's all-electron atom solver is needed: no MPI, FFTW, ScaLAPACK, libxc or BLAS.
# Install (offline-capable, ~20 s, needs only g++):
#   GPAW_CONFIG=scripts/gpaw_siteconfig.py .venv/bin/pip install --no-binary gpaw ".[gos]"
compiler = 'g++'
mpi = False
fftw = False
scalapack = False
nolibxc = True
noblas = True
libraries = []
