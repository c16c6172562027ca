{
  "targets": [
    {
      "target_name": "passthrough",
      "sources": ["passthrough.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
