{
  "targets": [
    {
      "target_name": "blaine_native",
      "sources": ["scan.c", "fsops.c", "copyfiles.c", "copyfeed.c", "sha256.c", "jsstring.c", "parity_addon.c", "gf16.c", "md5.c", "md5lanes.c", "crc32.c", "par2create.c", "testfault.c", "cpu.c", "stamp.c", "quickdigest.c"],
      # quickdigest.c is an SQLite extension: its header comes with better-sqlite3's SQLite source.
      "include_dirs": ["../node_modules/better-sqlite3/deps/sqlite3"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"],
      "defines": [
        "NAPI_VERSION=8",
        # scan.c's NAPI_MODULE_INIT defines these two; renamed, so parity_addon.c's entry point can call it.
        "napi_register_module_v1=blaine_scan_init",
        "node_api_module_get_api_version_v1=blaine_scan_api_version"
      ]
    }
  ]
}
