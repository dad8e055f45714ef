{
  "targets": [
    {
      "target_name": "blaine_native",
      "sources": ["scan.c", "fsops.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
