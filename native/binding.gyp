{
  "targets": [
    {
      "target_name": "alpaca_blas",
      "sources": ["blas.c"],
      "cflags": ["-O2"],
      "defines": ["NAPI_VERSION=8"],
      "conditions": [
        ["OS=='mac'", {
          "defines": ["ACCELERATE_NEW_LAPACK"],
          "libraries": ["-framework Accelerate"]
        }],
        ["OS!='mac'", {
          "include_dirs": ["/usr/include/openblas"],
          "libraries": ["-l<!(node -p \"process.env.ALPACA_FORGE_BLAS_LIB || 'openblas'\")"]
        }]
      ]
    }
  ]
}
