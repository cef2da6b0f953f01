from encoder_cli.cli import main

main()
