/* (kernels to come) */
#include "native.h"

PyMethodDef synpt_lime_methods[] = {
    {NULL, NULL, 0, NULL},
};
