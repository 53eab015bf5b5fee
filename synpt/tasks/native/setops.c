/* (kernels to come) */
#include "native.h"

PyMethodDef synpt_setops_methods[] = {
    {NULL, NULL, 0, NULL},
};
