{
  "targets": [
    {
      "target_name": "view",
      "sources": ["addon.c", "passthrough.c", "entries.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
