from polysync.cli import main
main(prog_name="polysync")
