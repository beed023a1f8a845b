#!version:1.0.0.1
## deskprov boot file: later files override earlier ones
include:config "https://prov.example.com/prov/y000000000035.cfg"
include:config "https://prov.example.com/prov/0015654c4c30.cfg"
overwrite_mode = 1
