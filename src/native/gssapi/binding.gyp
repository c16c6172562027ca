{
  "targets": [
    {
      "target_name": "gssapi",
      "sources": ["gssapi.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-lgssapi_krb5", "-lkrb5"]
    }
  ]
}
