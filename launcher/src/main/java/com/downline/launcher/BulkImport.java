package com.downline.launcher;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.neo4j.cli.ExecutionContext;
import org.neo4j.importer.ImportCommand;
import org.neo4j.io.fs.DefaultFileSystemAbstraction;

import picocli.CommandLine;

/**
 * {@code neo4j-admin database import full} against a store this launcher runs.
 *
 * <p>Usage: {@code import --data DIR [options of neo4j-admin database import full ...]}, e.g.
 * {@code import --data var/neo4j/store --nodes=Member=members.csv --overwrite-destination neo4j}.
 * {@code DIR} is the home the embedded server was started with, so the importer writes the same
 * {@code DIR/data/databases/NAME} and {@code DIR/data/transactions/NAME} the server later opens.
 * The server must be stopped: the importer takes the store's lock and refuses otherwise. The exit
 * code is the importer's (0 when the database was written whole).
 */
final class BulkImport {
    private BulkImport() {}

    static int run(String[] args) throws Exception {
        if (args.length < 2 || !args[0].equals("--data")) {
            System.err.println("neo4j-launcher: import expects --data DIR first");
            return 2;
        }
        Path home = Path.of(args[1]).toAbsolutePath();
        Files.createDirectories(home);
        // No neo4j.conf here: the embedded server's settings live in launcher.conf, and the
        // importer only needs the home to find the data directory.
        Path conf = home.resolve("conf");
        try (DefaultFileSystemAbstraction fs = new DefaultFileSystemAbstraction()) {
            ExecutionContext context = new ExecutionContext(home, conf, System.out, System.err, fs);
            CommandLine command = new CommandLine(new ImportCommand.Full(context))
                    .setCaseInsensitiveEnumValuesAllowed(true);
            return command.execute(Arrays.copyOfRange(args, 2, args.length));
        }
    }
}
